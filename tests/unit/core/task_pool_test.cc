// TaskPool: tasks run on its threads, side by side up to their number, and every task posted
// before the pool ends (also by a task) runs before the destructor returns.
#include "core/task_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

namespace openbits::core {
namespace {

using namespace std::chrono_literals;

TEST(TaskPoolTest, TasksRunOffTheCallersThreadAndSideBySide) {
  TaskPool pool(2);
  // Each of the two tasks waits for the other: they finish only if both run at once.
  std::promise<void> first_started;
  std::promise<void> second_started;
  auto first_seen = first_started.get_future().share();
  auto second_seen = second_started.get_future().share();
  std::promise<bool> first_done;
  std::promise<bool> second_done;
  std::promise<std::thread::id> where;
  pool.Post([&] {
    where.set_value(std::this_thread::get_id());
    first_started.set_value();
    first_done.set_value(second_seen.wait_for(10s) == std::future_status::ready);
  });
  pool.Post([&] {
    second_started.set_value();
    second_done.set_value(first_seen.wait_for(10s) == std::future_status::ready);
  });
  EXPECT_NE(where.get_future().get(), std::this_thread::get_id());
  EXPECT_TRUE(first_done.get_future().get());
  EXPECT_TRUE(second_done.get_future().get());
}

TEST(TaskPoolTest, TheDestructorRunsEveryTaskPostedBeforeItAndByThem) {
  std::atomic<int> ran{0};
  {
    TaskPool pool(1);
    std::promise<void> gate;
    auto opened = gate.get_future().share();
    // The first task holds the only thread while the others queue behind it.
    pool.Post([opened, &ran] {
      opened.wait();
      ++ran;
    });
    for (int i = 0; i < 10; ++i) pool.Post([&ran] { ++ran; });
    // A task that posts another while the pool is ending.
    pool.Post([&pool, &ran] {
      ++ran;
      pool.Post([&ran] { ++ran; });
    });
    gate.set_value();
  }
  EXPECT_EQ(ran.load(), 13);
}

}  // namespace
}  // namespace openbits::core
