// Every output is written whole or not at all (model/weights/atomic_write.h):
// a full disk, a signal, two concurrent writers or a target that is not a
// regular file never leave a damaged file, a mixed file or a temporary, and
// never replace a device. The writer directly, the safetensors pair, result
// files through write_result, and export / check through the binary.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <barrier>
#include <chrono>
#include <csignal>
#include <cstring>
#include <iostream>
#include <filesystem>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "harness/results.h"
#include "model/error.h"
#include "model/weights/atomic_write.h"
#include "model/weights/gguf.h"
#include "model/weights/gguf_model.h"
#include "tests/cli_test_util.h"

namespace bitlab {
namespace {
namespace fs = std::filesystem;
using test::run_bitlab;
using test::scratch_dir;
using test::slurp;

// A shell that runs tests in the background ignores SIGINT, and an ignored
// signal stays ignored (by design) in the writer and in the binary: the tests
// that send signals need the ordinary default action.
const bool kDefaultSignals = [] {
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) std::signal(sig, SIG_DFL);
  return true;
}();

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

void put(const std::string& path, const std::string& text) { write_text_atomically(path, text); }

std::string pattern(char c, size_t n) { return std::string(n, c); }

// Runs `f` in a child process whose files may not grow past `limit` bytes
// (RLIMIT_FSIZE, SIGXFSZ ignored: write() fails with EFBIG, a real failure of
// the kernel's write path). The child's exit code: 10 DeviceError, 11
// UsageError, 12 another exception, 0 no failure.
int with_file_size_limit(rlim_t limit, const std::function<void()>& f) {
  const pid_t pid = fork();
  if (pid == 0) {
    std::signal(SIGXFSZ, SIG_IGN);
    const rlimit rl{limit, limit};
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(20);
    int code = 0;
    try {
      f();
    } catch (const DeviceError&) {
      code = 10;
    } catch (const UsageError&) {
      code = 11;
    } catch (...) {
      code = 12;
    }
    _exit(code);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// ---- The writer ------------------------------------------------------------

TEST(AtomicOutput, FullDiskLeavesTheOldFileAndNoTemporary) {
  const std::string dir = scratch_dir("atomic");
  const std::string path = dir + "out.bin";
  put(path, "the old file\n");
  // 3000 bytes pass, then a short write, then EFBIG: the first chunk is not a
  // multiple of the limit.
  const int code = with_file_size_limit(3000, [&] {
    write_file_atomically(path, [](const ByteSink& out) {
      const std::string chunk = pattern('x', 1000 * 1000 + 7);
      for (int i = 0; i < 4; ++i) out(chunk.data(), chunk.size());
    });
  });
  EXPECT_EQ(code, 10) << "a failed write must be a DeviceError";
  EXPECT_EQ(slurp(path), "the old file\n");
  EXPECT_EQ(names_in(dir), std::vector<std::string>{"out.bin"});
}

TEST(AtomicOutput, ConcurrentWritersLeaveOneWholeInput) {
  const std::string dir = scratch_dir("atomic");
  const std::string path = dir + "out.bin";
  const size_t chunk = 64 * 1024, chunks = 64;  // 4 MiB each, written in many pieces
  for (int round = 0; round < 5; ++round) {
    std::barrier start(2);
    std::vector<std::string> errors(2);
    auto writer = [&](int id) {
      const std::string bytes = pattern(char('a' + id), chunk);
      start.arrive_and_wait();
      try {
        write_file_atomically(path, [&](const ByteSink& out) {
          for (size_t i = 0; i < chunks; ++i) {
            out(bytes.data(), bytes.size());
            std::this_thread::yield();
          }
        });
      } catch (const std::exception& e) {
        errors[size_t(id)] = e.what();
      }
    };
    std::thread a(writer, 0), b(writer, 1);
    a.join();
    b.join();
    EXPECT_EQ(errors[0], "");
    EXPECT_EQ(errors[1], "");
    const std::string got = slurp(path);
    EXPECT_TRUE(got == pattern('a', chunk * chunks) || got == pattern('b', chunk * chunks))
        << "round " << round << ": " << got.size() << " bytes, neither input";
    EXPECT_EQ(names_in(dir), std::vector<std::string>{"out.bin"});
  }
}

// The child writes part of a file, says so, and waits for the signal.
TEST(AtomicOutput, SignalsRemoveLiveTemporaries) {
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    const std::string dir = scratch_dir("atomic");
    const std::string path = dir + "out.bin";
    put(path, "the old file\n");
    int ready[2];
    ASSERT_EQ(pipe(ready), 0);
    const pid_t pid = fork();
    if (pid == 0) {
      close(ready[0]);
      try {
        write_file_atomically(path, [&](const ByteSink& out) {
          const std::string bytes = pattern('n', 2 << 20);  // past the buffer: on disk
          out(bytes.data(), bytes.size());
          const char c = 1;
          if (::write(ready[1], &c, 1) != 1) _exit(30);
          for (;;) pause();
        });
      } catch (...) {
      }
      _exit(31);
    }
    close(ready[1]);
    char c = 0;
    ASSERT_EQ(read(ready[0], &c, 1), 1);
    close(ready[0]);
    EXPECT_EQ(names_in(dir).size(), 2u) << "the temporary should exist while the file is written";
    kill(pid, sig);
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == sig) << "signal " << sig << ": status " << status;
    EXPECT_EQ(slurp(path), "the old file\n");
    EXPECT_EQ(names_in(dir), std::vector<std::string>{"out.bin"}) << "signal " << sig;
  }
}

void expect_refused(const std::string& path, const std::string& dir) {
  const auto before = names_in(dir);
  try {
    write_file_atomically(path, [](const ByteSink& out) { out("new", 3); });
    ADD_FAILURE() << path << ": not refused";
  } catch (const UsageError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find("not a regular file"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
  EXPECT_EQ(names_in(dir), before) << path;
}

TEST(AtomicOutput, RefusesTargetsThatAreNotRegularFiles) {
  const std::string dir = scratch_dir("atomic");
  struct stat st {};

  ASSERT_EQ(mkfifo((dir + "fifo").c_str(), 0644), 0);
  expect_refused(dir + "fifo", dir);
  ASSERT_EQ(lstat((dir + "fifo").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));

  fs::create_directory(dir + "folder");
  expect_refused(dir + "folder", dir);
  EXPECT_TRUE(fs::is_directory(dir + "folder"));
  EXPECT_TRUE(fs::is_empty(dir + "folder"));

  // A symlink to a device: the device is neither written nor replaced, nor the link.
  fs::create_symlink("/dev/null", dir + "null-link");
  expect_refused(dir + "null-link", dir);
  EXPECT_TRUE(fs::is_symlink(dir + "null-link"));
  ASSERT_EQ(stat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));

  // A device node of its own (where allowed: root), the case that replaced a device.
  if (mknod((dir + "null-node").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0) {
    expect_refused(dir + "null-node", dir);
    ASSERT_EQ(lstat((dir + "null-node").c_str(), &st), 0);
    EXPECT_TRUE(S_ISCHR(st.st_mode));
  } else {
    std::cout << "[   INFO   ] no device node made here (mknod: " << std::strerror(errno) << "), that case not run\n";
  }
}

TEST(AtomicOutput, SymlinkToARegularFileIsWrittenThrough) {
  const std::string dir = scratch_dir("atomic");
  put(dir + "real.txt", "old");
  fs::create_symlink("real.txt", dir + "link.txt");
  put(dir + "link.txt", "new");
  EXPECT_TRUE(fs::is_symlink(dir + "link.txt"));
  EXPECT_EQ(slurp(dir + "real.txt"), "new");
  EXPECT_EQ(names_in(dir), (std::vector<std::string>{"link.txt", "real.txt"}));
}

// As `>` does: a link whose target is missing gets the target created, through
// a chain of links and a relative target in another folder; the links stay.
TEST(AtomicOutput, DanglingSymlinkGetsItsTargetCreated) {
  const std::string dir = scratch_dir("atomic");
  fs::create_directory(dir + "sub");
  fs::create_symlink("sub/hop", dir + "link.txt");
  fs::create_symlink("missing.txt", dir + "sub/hop");
  put(dir + "link.txt", "new");
  EXPECT_TRUE(fs::is_symlink(dir + "link.txt"));
  EXPECT_TRUE(fs::is_symlink(dir + "sub/hop"));
  EXPECT_EQ(slurp(dir + "sub/missing.txt"), "new");
  EXPECT_EQ(names_in(dir + "sub/"), (std::vector<std::string>{"hop", "missing.txt"}));
}

TEST(AtomicOutput, SymlinkLoopIsRefused) {
  const std::string dir = scratch_dir("atomic");
  fs::create_symlink("b", dir + "a");
  fs::create_symlink("a", dir + "b");
  EXPECT_THROW(put(dir + "a", "x"), UsageError);
  EXPECT_EQ(names_in(dir), (std::vector<std::string>{"a", "b"}));
}

TEST(AtomicOutput, NewFileModeHonoursTheUmask) {
  const std::string dir = scratch_dir("atomic");
  const mode_t old = umask(027);
  put(dir + "a.txt", "x");
  umask(old);
  struct stat st {};
  ASSERT_EQ(stat((dir + "a.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
}

TEST(AtomicOutput, FailingBodyLeavesTheOldFileAndNoTemporary) {
  const std::string dir = scratch_dir("atomic");
  put(dir + "out.bin", "old");
  EXPECT_THROW(write_file_atomically(dir + "out.bin",
                                     [](const ByteSink& out) {
                                       out("partial", 7);
                                       throw InputError("producer failed");
                                     }),
               InputError);
  EXPECT_EQ(slurp(dir + "out.bin"), "old");
  EXPECT_EQ(names_in(dir), std::vector<std::string>{"out.bin"});
}

TEST(AtomicOutput, AFileWithAFailedWriteIsNeverInstalled) {
  const std::string dir = scratch_dir("atomic");
  put(dir + "out.bin", "old");
  const int code = with_file_size_limit(4096, [&] {
    AtomicFile f(dir + "out.bin");
    const std::string big = pattern('x', 3 << 20);
    try {
      f.write(big.data(), big.size());
    } catch (const DeviceError&) {
    }
    f.install();  // a caller that carried on: must still fail
  });
  EXPECT_EQ(code, 10);
  EXPECT_EQ(slurp(dir + "out.bin"), "old");
  EXPECT_EQ(names_in(dir), std::vector<std::string>{"out.bin"});
}

// ---- Sets of files (model.safetensors + config.json) -------------------------

TEST(AtomicOutput, AFailedSetLeavesEveryOldFile) {
  const std::string dir = scratch_dir("atomic");
  put(dir + "a.bin", "old a");
  put(dir + "b.bin", "old b");
  // The first file fits, the second does not: neither may change.
  const int code = with_file_size_limit(8192, [&] {
    write_files_atomically({
        {dir + "a.bin", [](const ByteSink& out) { out("new a", 5); }},
        {dir + "b.bin",
         [](const ByteSink& out) {
           const std::string big = pattern('b', 3 << 20);
           out(big.data(), big.size());
         }},
    });
  });
  EXPECT_EQ(code, 10);
  EXPECT_EQ(slurp(dir + "a.bin"), "old a");
  EXPECT_EQ(slurp(dir + "b.bin"), "old b");
  EXPECT_EQ(names_in(dir), (std::vector<std::string>{"a.bin", "b.bin"}));

  write_files_atomically({{dir + "a.bin", [](const ByteSink& out) { out("new a", 5); }},
                          {dir + "b.bin", [](const ByteSink& out) { out("new b", 5); }}});
  EXPECT_EQ(slurp(dir + "a.bin"), "new a");
  EXPECT_EQ(slurp(dir + "b.bin"), "new b");
}

TEST(AtomicOutput, ASetWithABadTargetWritesNothing) {
  const std::string dir = scratch_dir("atomic");
  put(dir + "a.bin", "old a");
  fs::create_directory(dir + "b.bin");
  bool body_ran = false;
  EXPECT_THROW(write_files_atomically({{dir + "a.bin",
                                        [&](const ByteSink& out) {
                                          body_ran = true;
                                          out("new a", 5);
                                        }},
                                       {dir + "b.bin", [](const ByteSink& out) { out("new b", 5); }}}),
               UsageError);
  EXPECT_FALSE(body_ran) << "the bad target must be refused before anything is written";
  EXPECT_EQ(slurp(dir + "a.bin"), "old a");
  EXPECT_EQ(names_in(dir), (std::vector<std::string>{"a.bin", "b.bin"}));
}

// ---- Result files ------------------------------------------------------------

nlohmann::json big_doc(const std::string& tag, int samples = 20000) {
  nlohmann::json doc = {{"tag", tag}, {"samples", nlohmann::json::array()}};
  for (int i = 0; i < samples; ++i) doc["samples"].push_back(i * 0.5);
  return doc;
}

TEST(AtomicOutput, ResultFileOnAFullDiskKeepsTheOldResult) {
  const std::string dir = scratch_dir("atomic");
  const std::string path = dir + "result.json";
  write_result(path, {{"tag", "old"}});
  const std::string before = slurp(path);
  const int code = with_file_size_limit(4096, [&] { write_result(path, big_doc("new")); });
  EXPECT_EQ(code, 10) << "a failed write is a DeviceError (exit 1), not a usage error";
  EXPECT_EQ(slurp(path), before);
  EXPECT_EQ(names_in(dir), std::vector<std::string>{"result.json"});
}

TEST(AtomicOutput, ConcurrentResultWritersLeaveOneValidDocument) {
  const std::string dir = scratch_dir("atomic");
  const std::string path = dir + "result.json";
  // Of different lengths: interleaved writes through truncating opens leave
  // the shorter document followed by the longer one's tail.
  const nlohmann::json a = big_doc("a", 40000), b = big_doc("b", 20000);
  for (int round = 0; round < 10; ++round) {
    std::barrier start(2);
    auto writer = [&](const nlohmann::json* doc) {
      start.arrive_and_wait();
      write_result(path, *doc);
    };
    std::thread ta(writer, &a), tb(writer, &b);
    ta.join();
    tb.join();
    const nlohmann::json got = nlohmann::json::parse(slurp(path), nullptr, false);
    ASSERT_FALSE(got.is_discarded()) << "round " << round << ": invalid JSON";
    EXPECT_TRUE(got == a || got == b);
    EXPECT_EQ(names_in(dir), std::vector<std::string>{"result.json"});
  }
}

TEST(AtomicOutput, ResultFileRefusesAFifo) {
  const std::string dir = scratch_dir("atomic");
  ASSERT_EQ(mkfifo((dir + "result.json").c_str(), 0644), 0);
  EXPECT_THROW(write_result(dir + "result.json", {{"tag", "x"}}), UsageError);
  EXPECT_EQ(names_in(dir), std::vector<std::string>{"result.json"});
}

// ---- Through the binary ------------------------------------------------------

// `bitlab ARGS` started in the background; stdout to `out`.
pid_t start_bitlab(const std::string& args, const std::string& out) {
  const pid_t pid = fork();
  if (pid == 0) {
    const std::string cmd = std::string("exec ") + BITLAB_BIN + " " + args + " >" + out + " 2>&1 </dev/null";
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

TEST(AtomicOutputCli, InterruptedExportLeavesNoTemporary) {
  const std::string dir = scratch_dir("atomic_cli");
  const std::string log = ::testing::TempDir() + "/bitlab_atomic_interrupt_" + std::to_string(getpid()) + ".log";
  const pid_t pid = start_bitlab("export --model synthetic:2b4t --format gguf-i2s " + dir + "model.gguf", log);
  bool saw_temporary = false, finished = false;
  for (auto t0 = std::chrono::steady_clock::now(); std::chrono::steady_clock::now() - t0 < std::chrono::minutes(5);) {
    const std::vector<std::string> names = names_in(dir);
    if (!names.empty() && names != std::vector<std::string>{"model.gguf"}) {  // the temporary, not the result
      saw_temporary = true;
      break;
    }
    if (waitpid(pid, nullptr, WNOHANG) == pid) {
      finished = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_FALSE(finished) << "the export finished before its temporary was seen: " << slurp(log);
  ASSERT_TRUE(saw_temporary) << "the export never started writing: " << slurp(log);
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT) << "status " << status << ": " << slurp(log);
  EXPECT_EQ(names_in(dir), std::vector<std::string>{}) << "a temporary was left behind";
  std::remove(log.c_str());
}

TEST(AtomicOutputCli, ConcurrentExportsLeaveOneRunsWeights) {
  const std::string dir = scratch_dir("atomic_cli");
  const std::string path = dir + "model.gguf";
  std::vector<std::string> logs, digests;
  std::vector<pid_t> pids;
  for (int seed : {1, 2}) {
    logs.push_back(::testing::TempDir() + "/bitlab_atomic_concurrent_" + std::to_string(getpid()) + "_" +
                   std::to_string(seed) + ".log");
    pids.push_back(start_bitlab("export --model synthetic:2b4t-1layer --weight-seed " + std::to_string(seed) +
                                    " --format gguf-i2s " + path,
                                logs.back()));
  }
  for (size_t i = 0; i < pids.size(); ++i) {
    int status = 0;
    waitpid(pids[i], &status, 0);
    const std::string out = slurp(logs[i]);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(out, m, std::regex("weights digest ([0-9a-f]{16})"))) << out;
    digests.push_back(m[1]);
    std::remove(logs[i].c_str());
  }
  ASSERT_NE(digests[0], digests[1]);
  const std::string got = fmt::format("{:016x}", load_gguf_model(open_gguf(path)).digest());
  EXPECT_TRUE(got == digests[0] || got == digests[1]) << got << " matches neither run";
  EXPECT_EQ(names_in(dir), std::vector<std::string>{"model.gguf"});
}

TEST(AtomicOutputCli, ExportAndCheckRefuseAFifoInOneLine) {
  const std::string dir = scratch_dir("atomic_cli");
  const std::string fifo = dir + "target";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0644), 0);
  for (const std::string& args :
       {"export --model synthetic:tiny --format gguf-i2s " + fifo,
        "check --backends scalar --tokens 2 --threads 1 --model synthetic:tiny --out " + fifo}) {
    const test::CmdResult r = run_bitlab(args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.err;
    EXPECT_NE(r.err.find("not a regular file"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
    struct stat st {};
    ASSERT_EQ(lstat(fifo.c_str(), &st), 0);
    EXPECT_TRUE(S_ISFIFO(st.st_mode)) << args;
    EXPECT_EQ(names_in(dir), std::vector<std::string>{"target"}) << args;
  }
}

// The export writes the weights in a child process of its own: a forked test
// process cannot run OpenMP code once its parent has.
TEST(AtomicOutputCli, FailedSafetensorsReexportLeavesTheOldPair) {
  const std::string dir = scratch_dir("atomic_cli");
  put(dir + "config.json", "{\"old\": true}\n");
  put(dir + "model.safetensors", "old weights");
  // 32 blocks (16 KiB in dash's 512-byte blocks, 32 KiB in bash's): room for
  // config.json, not for the weights.
  const std::string export_cmd =
      std::string(BITLAB_BIN) + " export --model synthetic:tiny --format safetensors " + dir;
  const test::CmdResult r = test::run_command("trap '' XFSZ; ulimit -f 32; exec " + export_cmd);
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_NE(test::line_with(r.err, "bitlab: ").find("model.safetensors"), std::string::npos) << r.err;
  EXPECT_EQ(slurp(dir + "config.json"), "{\"old\": true}\n");
  EXPECT_EQ(slurp(dir + "model.safetensors"), "old weights");
  EXPECT_EQ(names_in(dir), (std::vector<std::string>{"config.json", "model.safetensors"}));

  const test::CmdResult ok = test::run_command(export_cmd);  // without the limit both are replaced
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_NE(slurp(dir + "config.json").find("BitNetForCausalLM"), std::string::npos);
  EXPECT_EQ(names_in(dir), (std::vector<std::string>{"config.json", "model.safetensors"}));
}

TEST(AtomicOutputCli, CheckOnAFullDiskKeepsTheOldResultAndExitsOne) {
  const std::string dir = scratch_dir("atomic_cli");
  const std::string path = dir + "check.json";
  write_text_atomically(path, "{\"old\": true}\n");
  // SIGXFSZ ignored and a 4-block file size limit: the result (well over 4
  // KiB) cannot be written.
  const test::CmdResult r = test::run_command(
      std::string("trap '' XFSZ; ulimit -f 4; exec ") + BITLAB_BIN +
      " check --backends scalar --tokens 2 --threads 1 --model synthetic:tiny --out " + path);
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  // Progress lines come first; the error is one line of its own.
  EXPECT_NE(test::line_with(r.err, "bitlab: ").find("check.json"), std::string::npos) << r.err;
  EXPECT_EQ(slurp(path), "{\"old\": true}\n");
  EXPECT_EQ(names_in(dir), std::vector<std::string>{"check.json"});
}

}  // namespace
}  // namespace bitlab
