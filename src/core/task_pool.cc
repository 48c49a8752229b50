#include "core/task_pool.h"

#include <signal.h>

#include <algorithm>

namespace openbits::core {

TaskPool::TaskPool(std::uint32_t threads) {
  // A thread inherits the signal mask of its creator: block everything while creating them,
  // or a thread could take SIGTERM's default action and kill bitsd without a clean shutdown.
  sigset_t all;
  sigset_t previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  threads = std::max<std::uint32_t>(threads, 1);
  threads_.reserve(threads);
  for (std::uint32_t i = 0; i < threads; ++i) threads_.emplace_back(&TaskPool::Work, this);
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

TaskPool::~TaskPool() {
  {
    MutexLock lock(mutex_);
    stopping_ = true;
  }
  changed_.NotifyAll();
  for (std::thread& thread : threads_) thread.join();
}

void TaskPool::Post(std::function<void()> task) {
  {
    MutexLock lock(mutex_);
    tasks_.push_back(std::move(task));
  }
  changed_.NotifyOne();
}

void TaskPool::Work() {
  MutexLock lock(mutex_);
  for (;;) {
    if (!tasks_.empty()) {
      std::function<void()> task = std::move(tasks_.front());
      tasks_.pop_front();
      ++running_;
      lock.Unlock();
      task();
      task = nullptr;  // what the task held goes before the pool may end
      lock.Lock();
      --running_;
      continue;
    }
    // Stop once nothing is queued and no running task can post more.
    if (stopping_ && running_ == 0) {
      changed_.NotifyAll();
      return;
    }
    changed_.Wait(mutex_);
  }
}

}  // namespace openbits::core
