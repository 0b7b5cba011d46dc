// Runs another program to completion with its standard output and error in
// files, no shell in between (arguments pass as they are).
#pragma once
#include <string>
#include <vector>

namespace bitlab::peers {

struct ChildResult {
  int exit_code = -1;  // -1: killed by a signal
  int signal = 0;
};

// argv[0] is the program's path. Throws InputError naming `what` when it is
// not an executable file or cannot be started. With `cwd`, the program runs in
// that folder (peers write files such as llama.log into theirs), so argv's
// paths must then be absolute; stdout_path and stderr_path, and argv[0], are
// taken from the caller's folder either way.
ChildResult run_child(const std::vector<std::string>& argv, const std::string& stdout_path,
                      const std::string& stderr_path, const std::string& what, const std::string& cwd = "");

// The last line of a file that is not blank ("" when none): what a failed
// peer said last, for its one-line error.
std::string last_line_of(const std::string& path);

}  // namespace bitlab::peers
