// SlowCalls: method calls whose work waits on disks (Complete and Cancel: stopping the run,
// the store's durable sync, renames and their directory syncs) run on a few worker threads
// instead of the bus thread, and answer from the bus thread when done. The bus thread stays
// free to read and answer every other call meanwhile, and the calls in progress at once share
// the store's group-committed syncs instead of paying one each, one after the other.
//
// The caller and the job are taken from the message on the bus thread before the work is
// handed over, so the work runs with exactly the identity and checks of a synchronous call.
#pragma once

#include <sdbus-c++/MethodResult.h>

#include <functional>
#include <memory>

#include "core/task_pool.h"
#include "ipc/bus_loop.h"
#include "ipc/error_names.h"
#include "openbits/result.h"

namespace openbits::ipc {

class SlowCalls {
 public:
  // `threads` workers (at least 1); replies are posted to `loop`. The destructor finishes
  // the work already handed over, then joins the workers. Answers that reach the loop after
  // it stopped are dropped with it (the caller sees the connection close).
  SlowCalls(BusLoop& loop, std::uint32_t threads) : loop_(loop), workers_(threads) {}
  SlowCalls(const SlowCalls&) = delete;
  SlowCalls& operator=(const SlowCalls&) = delete;

  // Runs `work` on a worker, then answers `reply` on the bus thread with its value or its
  // error (the BITS HRESULT as a D-Bus error, as a synchronous handler would).
  template <typename T>
  void Run(sdbus::Result<T>&& reply, std::function<Result<T>()> work) {
    auto answer = std::make_shared<sdbus::Result<T>>(std::move(reply));
    workers_.Post([this, answer, work = std::move(work)] {
      auto outcome = std::make_shared<Result<T>>(Error::Internal("the call did not finish"));
      try {
        *outcome = work();
      } catch (const std::exception& thrown) {
        *outcome = Error::Internal(thrown.what());
      }
      loop_.Post([answer, outcome] {
        if (*outcome) {
          answer->returnResults(**outcome);
        } else {
          answer->returnError(ToDbusError(outcome->error()));
        }
      });
    });
  }

 private:
  BusLoop& loop_;
  core::TaskPool workers_;  // last: drained and joined first
};

}  // namespace openbits::ipc
