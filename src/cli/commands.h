// The bitsadmin verbs (bits-reference.md 6.1), each a function of the parsed arguments.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "openbits/client.h"

namespace openbits::cli {

struct Context {
  Client& client;
  bool raw = false;   // /rawreturn: bare values, no decoration
  bool json = false;  // --json: /info, /list and /geterror print JSON
};

using Args = std::vector<std::string>;
// Returns the process exit code: 0 success, 1 failure, 2 bad usage.
using Command = std::function<int(Context&, const Args&)>;

// Verb (lower case, with its slash) -> command.
const std::map<std::string, Command>& Commands();

// Prints the usage text.
void PrintHelp();

}  // namespace openbits::cli
