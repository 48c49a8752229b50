// The bitsadmin verbs of the network: /setcredentials, /removecredentials,
// /setproxysettings, /getproxy*, and /util (/listcertificates, /setieproxy, /getieproxy).
#pragma once

#include <map>
#include <string>

#include "cli/commands.h"

namespace openbits::cli {

void AddNetworkCommands(std::map<std::string, Command>& commands);

}  // namespace openbits::cli
