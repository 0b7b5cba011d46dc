// The CPU backend's worker threads: a job is a number of chunks, taken one at
// a time by whichever thread is running, so a worker the OS has descheduled
// (another process wants its core) holds up at most the chunk it is in,
// never a share fixed in advance. Waiting threads spin for 3 us, then yield
// between checks up to 50 us, then sleep on a futex (std::atomic::wait): an
// idle machine sees about the hand-over latency of a spinning barrier, a busy
// one gets the core back for whoever else is runnable.
#pragma once
#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace bitlab::cpu {

class ThreadPool {
 public:
  // The most chunks one job may have (the chunk index shares a word with the job's number).
  static constexpr int64_t kMaxChunks = 0xffff;

  // `threads` counts the calling thread: threads - 1 workers are started.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return int(workers_.size()) + 1; }

  // Calls body(c) exactly once for every c in [0, n_chunks), on the calling
  // thread and the workers, and returns when all calls have returned. An
  // exception thrown by a call is rethrown here (the first one; the other
  // chunks still run). A call from inside a body, or from a second thread
  // while a job runs, runs its chunks on the calling thread alone.
  template <class F>
  void run(int64_t n_chunks, F&& body) {
    using Fn = std::remove_reference_t<F>;
    run_erased(n_chunks, [](void* ctx, int64_t c) { (*static_cast<Fn*>(ctx))(c); },
               const_cast<void*>(static_cast<const void*>(&body)));
  }

 private:
  using Body = void (*)(void*, int64_t);
  void run_erased(int64_t n_chunks, Body body, void* ctx);
  void worker_loop();
  // Takes and runs chunks of job `gen` until none is left.
  void work_on(uint32_t gen);
  void run_chunk(int64_t c);

  // The job word: number (32 bits) | chunk count (16) | next chunk (16). A
  // chunk is claimed by one compare-exchange on it, so a worker that wakes
  // late, holding an old job's number, can never claim a chunk of a newer job.
  std::atomic<uint64_t> job_{0};
  std::atomic<uint32_t> gen_{0};       // the latest job's number; workers sleep on it
  std::atomic<uint32_t> done_{0};      // chunks of the current job finished
  std::atomic<uint32_t> sleepers_{0};  // workers asleep on gen_ (publishing wakes them only if any)
  std::atomic<uint32_t> caller_asleep_{0};
  std::atomic<bool> busy_{false};  // a job is running: nested or concurrent calls run inline
  std::atomic<bool> stop_{false};
  // The current job, written before job_ is published and read only by a
  // thread that has claimed one of its chunks.
  Body body_ = nullptr;
  void* ctx_ = nullptr;
  uint32_t n_chunks_ = 0;
  std::mutex error_mutex_;
  std::exception_ptr error_;
  std::vector<std::thread> workers_;
};

}  // namespace bitlab::cpu
