// The bitsadmin verbs of the network: /setcredentials, /removecredentials,
// /setproxysettings, /getproxy*, the helper token verbs (/sethelpertoken, /clearhelpertoken,
// /sethelpertokenflags, /gethelpertokenflags, /gethelpertokensid) and /util (/listcertificates,
// /setieproxy, /getieproxy, /createhelpertoken).
#pragma once

#include <map>
#include <string>

#include "cli/commands.h"

namespace openbits::cli {

void AddNetworkCommands(std::map<std::string, Command>& commands);

}  // namespace openbits::cli
