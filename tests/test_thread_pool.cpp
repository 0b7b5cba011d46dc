// The CPU backend's thread pool: every chunk runs exactly once whatever the
// chunk and thread counts, exceptions reach the caller, nested and
// concurrent jobs still complete, and jobs follow each other without a
// worker running a stale job's chunk.
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

#include "harness/op_cases/op_case.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/registry.h"

namespace bitlab::cpu {
namespace {

TEST(ThreadPool, EveryChunkRunsExactlyOnce) {
  for (int threads : {1, 2, 3, 4, 8}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.threads(), threads);
    for (int64_t n : {0, 1, 2, 3, 5, 7, 8, 16, 31, 100, 1000}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      pool.run(n, [&](int64_t c) { hits[size_t(c)].fetch_add(1, std::memory_order_relaxed); });
      for (int64_t c = 0; c < n; ++c)
        ASSERT_EQ(hits[size_t(c)].load(), 1) << "threads " << threads << " n " << n << " chunk " << c;
    }
  }
}

TEST(ThreadPool, ManyShortJobsInARow) {
  // Jobs back to back: a worker still leaving job j must never run a chunk of
  // job j + 1 with job j's body (each job's body writes only its own counter).
  ThreadPool pool(4);
  constexpr int kJobs = 20000;
  std::vector<int> sums(kJobs, 0);
  for (int j = 0; j < kJobs; ++j) {
    std::atomic<int> sum{0};
    const int64_t n = 1 + j % 9;
    pool.run(n, [&](int64_t c) { sum.fetch_add(int(c) + 1, std::memory_order_relaxed); });
    sums[size_t(j)] = sum.load();
    ASSERT_EQ(sums[size_t(j)], int(n * (n + 1) / 2)) << "job " << j;
  }
}

TEST(ThreadPool, WorkersThatSleptWakeForTheNextJob) {
  // Past the spin budget the workers sleep on a futex; a job after a pause
  // must still be shared out and completed.
  ThreadPool pool(3);
  for (int round = 0; round < 3; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::atomic<int> ran{0};
    pool.run(64, [&](int64_t) { ran.fetch_add(1); });
    EXPECT_EQ(ran.load(), 64);
  }
}

TEST(ThreadPool, UsesMoreThanOneThreadAndWaitsForIt) {
  // Chunks that wait for each other can only finish if two threads run them
  // at once; the worker's chunk then takes a while longer, and run() must not
  // return before it has.
  ThreadPool pool(2);
  const std::thread::id caller = std::this_thread::get_id();
  std::atomic<int> arrived{0}, finished{0};
  pool.run(2, [&](int64_t) {
    arrived.fetch_add(1);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (arrived.load() < 2 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    if (std::this_thread::get_id() != caller) std::this_thread::sleep_for(std::chrono::milliseconds(30));
    finished.fetch_add(1);
  });
  EXPECT_EQ(arrived.load(), 2);
  EXPECT_EQ(finished.load(), 2);
}

TEST(ThreadPool, ExceptionReachesTheCallerAfterEveryChunk) {
  ThreadPool pool(4);
  for (int64_t n : {1, 2, 4, 50}) {
    std::atomic<int> ran{0};
    EXPECT_THROW(pool.run(n,
                          [&](int64_t c) {
                            ran.fetch_add(1);
                            if (c == n - 1) throw std::runtime_error("chunk failed");
                          }),
                 std::runtime_error)
        << "n " << n;
    // The other chunks still ran: the caller's stack stays valid until every call has returned.
    EXPECT_EQ(ran.load(), n);
  }
  // And the pool still works afterwards.
  std::atomic<int> ran{0};
  pool.run(10, [&](int64_t) { ran.fetch_add(1); });
  EXPECT_EQ(ran.load(), 10);
}

TEST(ThreadPool, NestedJobRunsInline) {
  ThreadPool pool(3);
  std::atomic<int> inner{0};
  pool.run(6, [&](int64_t) { pool.run(5, [&](int64_t) { inner.fetch_add(1); }); });
  EXPECT_EQ(inner.load(), 30);
}

TEST(ThreadPool, TwoCallersAtOnce) {
  ThreadPool pool(3);
  std::atomic<int> total{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 2; ++t)
    callers.emplace_back([&] {
      for (int j = 0; j < 2000; ++j) pool.run(7, [&](int64_t) { total.fetch_add(1, std::memory_order_relaxed); });
    });
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(total.load(), 2 * 2000 * 7);
}

TEST(ThreadPool, RefusesBadSizes) {
  EXPECT_THROW(ThreadPool(0), std::invalid_argument);
  ThreadPool pool(2);
  EXPECT_THROW(pool.run(ThreadPool::kMaxChunks + 1, [](int64_t) {}), std::invalid_argument);
}

TEST(ThreadPool, CpuBackendsMatchTheReferenceAtOddThreadCounts) {
  // The op tests run two threads; 3 and 7 cut the loops (and the matmul's row
  // groups) at other places, which must not change a bit.
  for (const std::string& name : usable_backends()) {
    for (int threads : {3, 7}) {
      const auto be = make_backend(name, BackendOptions{.threads = threads, .device = 0});
      if (be->info().kind != "cpu") break;
      for (const opcase::OpCase& c : opcase::unit_cases()) {
        const opcase::Outcome o = opcase::check_case(*be, c);
        EXPECT_TRUE(o.pass) << name << " with " << threads << " threads: " << c.key() << ": " << o.detail;
      }
    }
  }
}

}  // namespace
}  // namespace bitlab::cpu
