#include "kernels/cpu/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <utility>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace bitlab::cpu {
namespace {

// How long a waiting thread stays awake (spinning, then yielding) before it
// sleeps on the futex. Decode hands work over hundreds of times per token, a
// few to tens of microseconds apart: awake this long, a worker catches nearly
// every hand-over on an idle machine without a futex wake-up. BITLAB_SPIN_US
// overrides it (microseconds; 0: sleep at once) for measuring other budgets.
std::chrono::nanoseconds spin_budget() {
  static const std::chrono::nanoseconds ns = [] {
    if (const char* s = std::getenv("BITLAB_SPIN_US"); s && *s) return std::chrono::nanoseconds(std::atoll(s) * 1000);
    return std::chrono::nanoseconds(50'000);
  }();
  return ns;
}

// The pure spin at the start of a wait (see spin_until).
constexpr int64_t kPauseSpinNs = 3'000;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Waits until ready() or the budget is spent, without sleeping; true if
// ready. The first microseconds spin on the core (the usual hand-over on an
// idle machine is that quick); after that the thread yields between checks:
// on an idle core a yield returns at once, on a core shared with another
// runnable process it lets that process (often the very peer this thread
// waits for) run instead of burning the time slice.
template <class Ready>
bool spin_until(Ready&& ready) {
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + spin_budget();
  const auto pause_until = start + std::min(spin_budget(), std::chrono::nanoseconds(kPauseSpinNs));
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (ready()) return true;
      cpu_relax();
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return ready();
    if (now >= pause_until) std::this_thread::yield();
  }
}

constexpr uint64_t job_word(uint32_t gen, uint32_t n, uint32_t next) {
  return uint64_t(gen) << 32 | uint64_t(n) << 16 | next;
}
constexpr uint32_t job_gen(uint64_t w) { return uint32_t(w >> 32); }
constexpr uint32_t job_n(uint64_t w) { return uint32_t(w >> 16) & 0xffff; }
constexpr uint32_t job_next(uint64_t w) { return uint32_t(w) & 0xffff; }

}  // namespace

ThreadPool::ThreadPool(int threads) {
  if (threads < 1) throw std::invalid_argument("ThreadPool: threads must be at least 1");
  workers_.reserve(size_t(threads - 1));
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_seq_cst);
  gen_.fetch_add(1, std::memory_order_seq_cst);
  gen_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::run_chunk(int64_t c) {
  try {
    body_(ctx_, c);
  } catch (...) {
    const std::lock_guard lock(error_mutex_);
    if (!error_) error_ = std::current_exception();
  }
  // Read before the chunk is counted: once the last one is, the caller may start the next job.
  const uint32_t n = n_chunks_;
  // Seq-cst pair with the caller's (caller_asleep_ store, done_ load): either
  // it sees this chunk done or this sees it asleep.
  const uint32_t finished = done_.fetch_add(1, std::memory_order_seq_cst) + 1;
  if (finished == n && caller_asleep_.load(std::memory_order_seq_cst)) done_.notify_all();
}

void ThreadPool::work_on(uint32_t gen) {
  uint64_t w = job_.load(std::memory_order_acquire);
  for (;;) {
    if (job_gen(w) != gen || job_next(w) >= job_n(w)) return;
    if (job_.compare_exchange_weak(w, w + 1, std::memory_order_acq_rel, std::memory_order_acquire))
      run_chunk(job_next(w));  // body_ and ctx_ are this job's: it cannot end while this chunk runs
  }
}

void ThreadPool::worker_loop() {
  uint32_t seen = 0;
  for (;;) {
    if (!spin_until([&] { return gen_.load(std::memory_order_acquire) != seen; })) {
      sleepers_.fetch_add(1, std::memory_order_seq_cst);
      // Seq-cst pair with run_erased's (gen_ store, sleepers_ load): either the
      // publisher sees this sleeper or this sees the new number.
      while (gen_.load(std::memory_order_seq_cst) == seen) gen_.wait(seen, std::memory_order_seq_cst);
      sleepers_.fetch_sub(1, std::memory_order_relaxed);
    }
    if (stop_.load(std::memory_order_acquire)) return;
    seen = gen_.load(std::memory_order_acquire);
    work_on(seen);
  }
}

void ThreadPool::run_erased(int64_t n_chunks, Body body, void* ctx) {
  if (n_chunks <= 0) return;
  if (n_chunks > kMaxChunks) throw std::invalid_argument("ThreadPool: too many chunks in one job");
  bool expected = false;
  if (workers_.empty() || n_chunks == 1 || !busy_.compare_exchange_strong(expected, true)) {
    for (int64_t c = 0; c < n_chunks; ++c) body(ctx, c);
    return;
  }
  body_ = body;
  ctx_ = ctx;
  n_chunks_ = uint32_t(n_chunks);
  error_ = nullptr;
  done_.store(0, std::memory_order_relaxed);
  const uint32_t gen = gen_.load(std::memory_order_relaxed) + 1;
  job_.store(job_word(gen, uint32_t(n_chunks), 0), std::memory_order_release);
  gen_.store(gen, std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) > 0) gen_.notify_all();

  work_on(gen);
  const auto all_done = [&] { return done_.load(std::memory_order_acquire) == n_chunks_; };
  if (!spin_until(all_done)) {
    caller_asleep_.store(1, std::memory_order_seq_cst);
    for (uint32_t d; (d = done_.load(std::memory_order_seq_cst)) != n_chunks_;) done_.wait(d, std::memory_order_seq_cst);
    caller_asleep_.store(0, std::memory_order_relaxed);
  }
  std::exception_ptr error = std::exchange(error_, nullptr);
  busy_.store(false, std::memory_order_release);
  if (error) std::rethrow_exception(error);
}

}  // namespace bitlab::cpu
