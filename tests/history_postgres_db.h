// A throwaway database per test on the PostgreSQL server that
// BITLAB_TEST_POSTGRES_URL names (scripts/with-postgres starts one): ctest
// runs tests in parallel processes, and each needs a history of its own.
#pragma once
#include <string>

namespace bitlab::test {

// Creates database `name` on the server and returns a postgresql:// URI for
// it; "" with `why` set when there is no server to use (no URL, no libpq).
std::string create_postgres_database(const std::string& name, std::string& why);
void drop_postgres_database(const std::string& name);

}  // namespace bitlab::test
