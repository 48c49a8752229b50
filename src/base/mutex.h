// A mutex, its scoped lock and a condition variable that Clang's thread-safety analysis
// understands (-Wthread-safety, on for every clang build): members marked GUARDED_BY(mu)
// may only be touched, and functions marked REQUIRES(mu) only be called, with mu held; the
// compiler checks it. With other compilers the annotations compile to nothing.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#if defined(__clang__)
#define OPENBITS_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define OPENBITS_THREAD_ANNOTATION(x)
#endif

#define CAPABILITY(x) OPENBITS_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY OPENBITS_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) OPENBITS_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) OPENBITS_THREAD_ANNOTATION(pt_guarded_by(x))
#define REQUIRES(...) OPENBITS_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define EXCLUDES(...) OPENBITS_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define ACQUIRE(...) OPENBITS_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define RELEASE(...) OPENBITS_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define NO_THREAD_SAFETY_ANALYSIS OPENBITS_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace openbits {

class CAPABILITY("mutex") Mutex {
 public:
  void lock() ACQUIRE() { mutex_.lock(); }
  void unlock() RELEASE() { mutex_.unlock(); }

 private:
  friend class CondVar;
  std::mutex mutex_;
};

// Holds a Mutex for its scope; Unlock/Lock release it for a stretch in between (file
// operations, callbacks, joining threads) and take it back.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mutex) ACQUIRE(mutex) : mutex_(mutex) { mutex_.lock(); }
  ~MutexLock() RELEASE() {
    if (locked_) mutex_.unlock();
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;
  void Unlock() RELEASE() {
    mutex_.unlock();
    locked_ = false;
  }
  void Lock() ACQUIRE() {
    mutex_.lock();
    locked_ = true;
  }

 private:
  Mutex& mutex_;
  bool locked_ = true;
};

// Waits release the mutex while asleep and hold it again when they return (spurious wakeups
// included: callers loop on their condition).
class CondVar {
 public:
  void Wait(Mutex& mutex) REQUIRES(mutex) {
    std::unique_lock lock(mutex.mutex_, std::adopt_lock);
    cv_.wait(lock);
    lock.release();
  }
  void WaitFor(Mutex& mutex, std::chrono::microseconds timeout) REQUIRES(mutex) {
    std::unique_lock lock(mutex.mutex_, std::adopt_lock);
    cv_.wait_for(lock, timeout);
    lock.release();
  }
  void NotifyAll() { cv_.notify_all(); }
  void NotifyOne() { cv_.notify_one(); }

 private:
  std::condition_variable cv_;
};

}  // namespace openbits
