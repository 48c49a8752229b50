// signal_listener ADDRESS JOB_PATH SECONDS: a bus client for the notification tests.
// Subscribes to one job's signals, calls GetState once (so bitsd knows the connection and its
// uid), prints "ready", then prints one line per signal received ("JobTransferred",
// "JobModification <state>", "JobError <hresult> <context>") until JobTransferred arrives
// (exit 0) or SECONDS pass (exit 1).
#include <poll.h>

#include <sdbus-c++/sdbus-c++.h>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: signal_listener ADDRESS JOB_PATH SECONDS\n");
    return 2;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(std::stoi(argv[3]));
  auto connection = sdbus::createSessionBusConnectionWithAddress(argv[1]);
  auto proxy = sdbus::createProxy(*connection, "org.openbits.bits1", argv[2]);
  bool transferred = false;
  const char* interface = "org.openbits.bits1.Job";
  proxy->uponSignal("JobTransferred").onInterface(interface).call([&] {
    std::printf("JobTransferred\n");
    std::fflush(stdout);
    transferred = true;
  });
  proxy->uponSignal("JobModification").onInterface(interface).call([](uint32_t state) {
    std::printf("JobModification %u\n", state);
    std::fflush(stdout);
  });
  proxy->uponSignal("JobError").onInterface(interface).call([](uint32_t hr, uint32_t context) {
    std::printf("JobError 0x%08X %u\n", hr, context);
    std::fflush(stdout);
  });
  proxy->uponSignal("FileTransferred").onInterface(interface).call([](uint32_t index) {
    std::printf("FileTransferred %u\n", index);
    std::fflush(stdout);
  });
  proxy->finishRegistration();
  try {
    uint32_t state = 0;
    proxy->callMethod("GetState").onInterface(interface).storeResultsTo(state);
    std::printf("state %u\n", state);
  } catch (const sdbus::Error& error) {
    std::printf("call-failed %s\n", error.getName().c_str());
  }
  std::printf("ready\n");
  std::fflush(stdout);
  while (!transferred && std::chrono::steady_clock::now() < deadline) {
    while (connection->processPendingRequest()) {
    }
    if (transferred) break;
    const auto data = connection->getEventLoopPollData();
    pollfd fd{data.fd, data.events, 0};
    poll(&fd, 1, 100);
  }
  return transferred ? 0 : 1;
}
