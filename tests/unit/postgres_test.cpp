// The pure parts of the PostgreSQL layer (db/postgres.h): which --directory values name a
// PostgreSQL database, what libpq is given, passwords masked for logs, identifiers quoted, the
// binary COPY encoding.
#include "db/postgres.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace frontline {
namespace {

TEST_CASE("postgres: which directory values are PostgreSQL, and what libpq gets") {
  struct Case {
    const char* directory;
    bool postgres;
    const char* conninfo;
  };
  const Case cases[] = {
      {"postgresql://u@db1,db2/frontline?target_session_attrs=read-write", true,
       "postgresql://u@db1,db2/frontline?target_session_attrs=read-write"},
      {"postgres://localhost/x", true, "postgres://localhost/x"},
      {"postgresql:service=frontline", true, "service=frontline"},
      {"postgresql:", true, ""},
      {"/var/lib/frontline-fcgi/directory.db", false, "/var/lib/frontline-fcgi/directory.db"},
      {"directory.db", false, "directory.db"},
      {"postgresql.db", false, "postgresql.db"},
      {"./postgresql://x", false, "./postgresql://x"},
      {"", false, ""},
  };
  for (const Case& c : cases) {
    CAPTURE(c.directory);
    CHECK(pg::IsConnectionString(c.directory) == c.postgres);
    if (c.postgres) CHECK(pg::LibpqConnInfo(c.directory) == c.conninfo);
  }
}

TEST_CASE("postgres: passwords are masked in URIs and key=value strings") {
  struct Case {
    const char* in;
    const char* out;
  };
  const Case cases[] = {
      {"postgresql://app:s3cret@db/frontline", "postgresql://app:****@db/frontline"},
      {"postgresql://app:p@ss@db/frontline", "postgresql://app:****@db/frontline"},
      {"postgresql://app@db/frontline", "postgresql://app@db/frontline"},
      {"postgresql://db:5432/frontline", "postgresql://db:5432/frontline"},
      {"postgresql://app:pw@db1:5432,db2:5432/f?target_session_attrs=read-write",
       "postgresql://app:****@db1:5432,db2:5432/f?target_session_attrs=read-write"},
      {"postgresql://db/f?user=app&password=s3cret&sslmode=require",
       "postgresql://db/f?user=app&password=****&sslmode=require"},
      {"host=db user=app password=s3cret dbname=f", "host=db user=app password=**** dbname=f"},
      {"password=s3cret", "password=****"},
      {"host=db mypassword=x", "host=db mypassword=x"},
      {"", ""},
  };
  for (const Case& c : cases) {
    CAPTURE(c.in);
    CHECK(pg::MaskPassword(c.in) == c.out);
  }
}

TEST_CASE("postgres: identifiers are quoted") {
  CHECK(pg::QuoteIdentifier("frontline") == "\"frontline\"");
  CHECK(pg::QuoteIdentifier("a\"b") == "\"a\"\"b\"");
  CHECK(pg::QuoteIdentifier("") == "\"\"");
}

// Binary COPY fields as PostgreSQL's copy and array_recv read them (big-endian lengths; an
// array: dimensions, NULL flag, element type, then per dimension its size and lower bound).
TEST_CASE("postgres: binary COPY rows, arrays included") {
  using namespace std::string_literals;
  struct Case {
    const char* name;
    std::vector<std::string> values;
    uint32_t oid;
    std::string field;  // length word and array body
  };
  const Case cases[] = {
      {"empty", {}, pg::CopyRows::kTextOid,
       "\0\0\0\x0c" "\0\0\0\0" "\0\0\0\0" "\0\0\0\x19"s},
      {"one", {"ab"}, pg::CopyRows::kByteaOid,
       "\0\0\0\x1a" "\0\0\0\x01" "\0\0\0\0" "\0\0\0\x11" "\0\0\0\x01" "\0\0\0\x01"
       "\0\0\0\x02" "ab"s},
      {"two, one empty", {"", "xyz"}, pg::CopyRows::kTextOid,
       "\0\0\0\x1f" "\0\0\0\x01" "\0\0\0\0" "\0\0\0\x19" "\0\0\0\x02" "\0\0\0\x01"
       "\0\0\0\0" "\0\0\0\x03" "xyz"s},
  };
  const std::string header = "PGCOPY\n\377\r\n\0"s + "\0\0\0\0" "\0\0\0\0"s;
  for (const Case& c : cases) {
    INFO(c.name);
    pg::CopyRows rows;
    rows.Row(1);
    rows.Array(c.oid, c.values);
    rows.Trailer();
    CHECK(rows.Take() == header + "\0\x01"s + c.field + "\xff\xff"s);
    // The length word counts exactly the bytes after it.
    CHECK(c.field.size() - 4 == static_cast<size_t>(static_cast<unsigned char>(c.field[3])));
  }
}

}  // namespace
}  // namespace frontline
