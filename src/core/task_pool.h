// TaskPool: a fixed set of threads running posted tasks in order of arrival. JobRun hands it
// the end of each download (sync the temp file, record the file, wait for the store's group
// commit, start the next file), so that none of that blocking work runs on the engine's
// thread, which keeps every other transfer moving meanwhile.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "base/mutex.h"

namespace openbits::core {

class TaskPool {
 public:
  // threads: at least 1. The threads take no process signal (bitsd waits for its signals on
  // the bus loop).
  explicit TaskPool(std::uint32_t threads);
  // Runs every task posted before (and by those tasks), then joins the threads.
  ~TaskPool();
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  // Any thread, tasks included. A task posted while the pool is being destroyed still runs.
  void Post(std::function<void()> task) EXCLUDES(mutex_);

 private:
  void Work() EXCLUDES(mutex_);

  Mutex mutex_;
  CondVar changed_;
  std::deque<std::function<void()>> tasks_ GUARDED_BY(mutex_);
  std::uint32_t running_ GUARDED_BY(mutex_) = 0;
  bool stopping_ GUARDED_BY(mutex_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace openbits::core
