// The two databases' constructors, each compiled only where its library is
// found (harness/history/CMakeLists.txt); open_store() picks between them.
#pragma once
#include <memory>
#include <string>

#include "harness/history/store.h"

namespace bitlab::history {

std::unique_ptr<Store> open_sqlite_store(const std::string& path, bool create);
std::unique_ptr<Store> open_postgres_store(const std::string& url);

}  // namespace bitlab::history
