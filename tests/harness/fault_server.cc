#include "harness/fault_server.h"

#include <filesystem>
#include <sstream>
#include <stdexcept>

namespace openbits::harness {

FaultServer::FaultServer(const TempDir& dir, const std::string& host) : host_(host) {
  static int servers = 0;
  const std::string name = "fault" + std::to_string(servers++);
  log_path_ = dir / (name + "-requests.log");
  const std::string port_file = dir / (name + ".port");
  process_ = Process::Start({"/usr/bin/python3", HARNESS_DIR "/fault_server.py", "--host", host,
                             "--port-file", port_file, "--log", log_path_},
                            dir / (name + ".log"));
  if (!WaitUntil([&] { return std::filesystem::exists(port_file); }, 10s)) {
    throw std::runtime_error("fault server did not start: " + ReadFile(dir / (name + ".log")));
  }
  port_ = std::stoi(ReadFile(port_file));
}

std::string FaultServer::Url(const std::string& path_and_query) const {
  return "http://" + host_ + ":" + std::to_string(port_) + path_and_query;
}

std::vector<std::string> FaultServer::LogLines() const {
  std::vector<std::string> lines;
  std::istringstream content(ReadFile(log_path_));
  for (std::string line; std::getline(content, line);) lines.push_back(line);
  return lines;
}

std::string FaultServer::Content(std::uint32_t seed, std::size_t length) {
  std::uint32_t x = seed * 2654435761u + 1u;
  std::string bytes(length, '\0');
  for (char& byte : bytes) {
    x = x * 1103515245u + 12345u;
    byte = static_cast<char>((x >> 16) & 0xFF);
  }
  return bytes;
}

}  // namespace openbits::harness
