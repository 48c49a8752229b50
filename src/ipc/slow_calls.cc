#include "ipc/slow_calls.h"

#include <algorithm>

namespace openbits::ipc {

SlowCalls::SlowCalls(BusLoop& loop, std::size_t threads) : loop_(loop) {
  for (std::size_t i = 0; i < std::max<std::size_t>(threads, 1); ++i) {
    workers_.emplace_back([this] { Work(); });
  }
}

SlowCalls::~SlowCalls() {
  {
    MutexLock lock(mutex_);
    stopping_ = true;
  }
  changed_.NotifyAll();
  for (std::thread& worker : workers_) worker.join();
}

void SlowCalls::Submit(std::function<void()> task) {
  {
    MutexLock lock(mutex_);
    tasks_.push_back(std::move(task));
  }
  changed_.NotifyAll();
}

void SlowCalls::Work() {
  for (;;) {
    std::function<void()> task;
    {
      MutexLock lock(mutex_);
      while (tasks_.empty() && !stopping_) changed_.Wait(mutex_);
      if (tasks_.empty()) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
}

}  // namespace openbits::ipc
