// The whole BITS transition matrix (bits-reference.md 3.1), one row per (state, event).
#include "core/state_machine.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>

namespace openbits::core {
namespace {

using S = JobState;
using E = JobEvent;

constexpr S kStates[] = {S::kQueued,      S::kConnecting,   S::kTransferring,
                         S::kSuspended,   S::kError,        S::kTransientError,
                         S::kTransferred, S::kAcknowledged, S::kCancelled};
constexpr E kEvents[] = {E::kResume,        E::kSuspend,   E::kCancel,         E::kComplete,
                         E::kStartTransfer, E::kConnected, E::kAllTransferred, E::kTransientError,
                         E::kFatalError,    E::kRetryDue,  E::kRecover,        E::kYield,
                         E::kRejected};

// Every legal transition; anything not listed must be BG_E_INVALID_STATE.
const std::map<std::pair<S, E>, S>& Legal() {
  static const std::map<std::pair<S, E>, S> legal = [] {
    std::map<std::pair<S, E>, S> t;
    for (S s : {S::kQueued, S::kConnecting, S::kTransferring, S::kSuspended, S::kError,
                S::kTransientError, S::kTransferred}) {
      t[{s, E::kSuspend}] = S::kSuspended;
      t[{s, E::kCancel}] = S::kCancelled;
      t[{s, E::kComplete}] = S::kAcknowledged;
      t[{s, E::kRecover}] = s;
      t[{s, E::kRejected}] = S::kError;
    }
    t[{S::kSuspended, E::kResume}] = S::kQueued;
    t[{S::kError, E::kResume}] = S::kQueued;
    t[{S::kTransientError, E::kResume}] = S::kQueued;
    t[{S::kTransferred, E::kResume}] = S::kQueued;
    t[{S::kQueued, E::kResume}] = S::kQueued;
    t[{S::kConnecting, E::kResume}] = S::kConnecting;
    t[{S::kTransferring, E::kResume}] = S::kTransferring;
    t[{S::kQueued, E::kStartTransfer}] = S::kConnecting;
    t[{S::kConnecting, E::kConnected}] = S::kTransferring;
    t[{S::kTransferring, E::kConnected}] = S::kTransferring;
    t[{S::kConnecting, E::kAllTransferred}] = S::kTransferred;
    t[{S::kTransferring, E::kAllTransferred}] = S::kTransferred;
    t[{S::kQueued, E::kTransientError}] = S::kTransientError;
    t[{S::kConnecting, E::kTransientError}] = S::kTransientError;
    t[{S::kTransferring, E::kTransientError}] = S::kTransientError;
    t[{S::kQueued, E::kFatalError}] = S::kError;
    t[{S::kConnecting, E::kFatalError}] = S::kError;
    t[{S::kTransferring, E::kFatalError}] = S::kError;
    t[{S::kTransientError, E::kFatalError}] = S::kError;
    t[{S::kTransientError, E::kRetryDue}] = S::kQueued;
    t[{S::kConnecting, E::kRecover}] = S::kQueued;
    t[{S::kTransferring, E::kRecover}] = S::kQueued;
    t[{S::kConnecting, E::kYield}] = S::kQueued;
    t[{S::kTransferring, E::kYield}] = S::kQueued;
    return t;
  }();
  return legal;
}

TEST(StateMachineTest, EveryStateAndEventMatchesTheBitsTable) {
  int checked = 0;
  for (S from : kStates) {
    for (E event : kEvents) {
      const auto result = NextState(from, event);
      const auto expected = Legal().find({from, event});
      const std::string where =
          std::string(JobStateName(from)) + " + " + std::string(JobEventName(event));
      if (expected == Legal().end()) {
        ASSERT_FALSE(result) << where << " should be refused";
        EXPECT_EQ(result.error().code(), hr::BG_E_INVALID_STATE) << where;
      } else {
        ASSERT_TRUE(result) << where << ": " << result.error().ToString();
        EXPECT_EQ(*result, expected->second) << where;
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, 117);
}

TEST(StateMachineTest, FinalStatesAcceptNothing) {
  for (S final_state : {S::kAcknowledged, S::kCancelled}) {
    for (E event : kEvents) EXPECT_FALSE(NextState(final_state, event));
  }
}

}  // namespace
}  // namespace openbits::core
