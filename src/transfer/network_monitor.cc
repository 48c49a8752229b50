#include "transfer/network_monitor.h"

#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "base/log.h"

namespace openbits::transfer {

bool NetworkMonitor::Connected() {
  ifaddrs* addresses = nullptr;
  if (getifaddrs(&addresses) != 0) return true;  // cannot tell: do not block transfers
  bool any_interface = false, running = false;
  for (const ifaddrs* a = addresses; a; a = a->ifa_next) {
    if (a->ifa_flags & IFF_LOOPBACK) continue;
    any_interface = true;
    if ((a->ifa_flags & IFF_UP) && (a->ifa_flags & IFF_RUNNING)) running = true;
  }
  freeifaddrs(addresses);
  return running || !any_interface;
}

NetworkMonitor::~NetworkMonitor() { Stop(); }

bool NetworkMonitor::Start(Listener listener) {
  listener_ = std::move(listener);
  connected_ = Connected();
  netlink_fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  sockaddr_nl address{};
  address.nl_family = AF_NETLINK;
  address.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
  if (netlink_fd_ < 0 ||
      bind(netlink_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    log::Get("transfer")
        ->warn("Failed to watch the network (netlink: {}); assuming it is up",
               std::strerror(errno));
    if (netlink_fd_ >= 0) close(netlink_fd_);
    netlink_fd_ = -1;
    return true;
  }
  stop_fd_ = eventfd(0, EFD_CLOEXEC);
  thread_ = std::thread(&NetworkMonitor::Run, this);
  return connected_;
}

void NetworkMonitor::Stop() {
  if (thread_.joinable()) {
    const std::uint64_t one = 1;
    (void)!write(stop_fd_, &one, sizeof one);
    thread_.join();
  }
  if (netlink_fd_ >= 0) close(netlink_fd_);
  if (stop_fd_ >= 0) close(stop_fd_);
  netlink_fd_ = stop_fd_ = -1;
}

void NetworkMonitor::Run() {
  char buffer[16384];
  for (;;) {
    pollfd fds[2] = {{netlink_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0 && errno != EINTR) return;
    if (fds[1].revents & POLLIN) return;
    if (!(fds[0].revents & POLLIN)) continue;
    // The messages only say that something changed; the flags say what the state is now.
    while (recv(netlink_fd_, buffer, sizeof buffer, MSG_DONTWAIT) > 0) {
    }
    const bool connected = Connected();
    if (connected != connected_) {
      connected_ = connected;
      log::Get("transfer")->info("Network {}", connected ? "connected" : "disconnected");
      listener_(connected);
    }
  }
}

}  // namespace openbits::transfer
