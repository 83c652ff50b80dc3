// Reading a customer from a row of the customers table (schema.h, pg_schema.h): the one
// decoder of its columns and of the channels and links blobs, shared by both backends' stores
// and export.
// Stateless; the statement belongs to one connection, used by one thread at a time.
#ifndef FRONTLINE_DIRECTORY_CUSTOMER_ROW_H_
#define FRONTLINE_DIRECTORY_CUSTOMER_ROW_H_

#include <string>
#include <string_view>

#include "db/sqlite.h"
#include "directory/customer.h"

// The columns ReadCustomerRow expects, in its order, for a query on `customers c`; a macro so
// that statements can be put together at compile time.
#define FRONTLINE_CUSTOMER_COLUMNS                                                         \
  "c.customer_id, c.display_name, c.avatar, c.details_title, c.details_content, c.worker," \
  " c.channels, c.links"

namespace frontline {

// The customer in the current row of `row` (a statement selecting FRONTLINE_CUSTOMER_COLUMNS
// first, stepped to a row). False with `error` = `malformed channels or links of customer
// "<customer_id>"` when a blob cannot be decoded: the customer exists but cannot be shown,
// which callers report as unavailable, never as absent.
[[nodiscard]] bool ReadCustomerRow(const db::Statement& row, Customer* customer,
                                   std::string* error);

// How many columns FRONTLINE_CUSTOMER_COLUMNS has.
constexpr int kCustomerColumns = 8;
// The same from the column values as bytes, in FRONTLINE_CUSTOMER_COLUMNS order (a PostgreSQL
// row read in binary, whose text and bytea values are their bytes).
[[nodiscard]] bool ReadCustomerValues(const std::string_view (&values)[kCustomerColumns],
                                      Customer* customer, std::string* error);

}  // namespace frontline

#endif  // FRONTLINE_DIRECTORY_CUSTOMER_ROW_H_
