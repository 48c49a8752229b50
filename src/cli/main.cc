// bitsadmin: the Windows bitsadmin verbs against bitsd.
#include <algorithm>
#include <cctype>
#include <iostream>

#include "cli/commands.h"
#include "cli/terminal_output.h"

int main(int argc, char** argv) {
  // Names, URLs and error texts from jobs and servers never drive the terminal.
  const openbits::cli::TerminalEscaping escaping;
  openbits::BusChoice bus = openbits::BusChoice::Auto();
  bool raw = false, json = false;
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    std::string lower = arg;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower.starts_with("--bus=")) {
      bus = openbits::BusChoice::Parse(arg.substr(6));
    } else if (lower == "/rawreturn") {
      raw = true;
    } else if (lower == "--json" || lower == "/json") {
      json = true;
    } else if (lower == "/wrap" || lower == "/nowrap") {
      // Accepted for compatibility; output is never wrapped.
    } else if (lower == "/help" || lower == "/?" || lower == "--help" || lower == "-h") {
      openbits::cli::PrintHelp();
      return 0;
    } else {
      args.push_back(arg);
    }
  }
  if (args.empty()) {
    openbits::cli::PrintHelp();
    return 2;
  }
  std::string verb = args.front();
  std::transform(verb.begin(), verb.end(), verb.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const auto& commands = openbits::cli::Commands();
  const auto command = commands.find(verb);
  if (command == commands.end()) {
    std::cerr << "bitsadmin: unknown verb '" << args.front() << "' (see bitsadmin /help)\n";
    return 2;
  }
  auto client = openbits::Client::Connect(bus);
  if (!client) {
    std::cerr << "Unable to connect to bitsd - " << client.error().ToString() << "\n";
    return 1;
  }
  openbits::cli::Context context{**client, raw, json};
  args.erase(args.begin());
  return command->second(context, args);
}
