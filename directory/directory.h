// The customer directory as the handlers see it: lookups by id and by address, a paged and
// searchable list per worker, and worker numbers. Implementations must be safe to call from
// several request threads at once (SqliteDirectory keeps one connection per thread).
#ifndef FRONTLINE_DIRECTORY_DIRECTORY_H_
#define FRONTLINE_DIRECTORY_DIRECTORY_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "directory/customer.h"

namespace frontline {

struct ListRequest {
  std::string worker;            // only this worker's customers, unless all_workers
  bool all_workers = false;      // crm.list-all-customers
  std::string query;             // search text, may be empty (SPEC §2)
  size_t page_size = 30;         // 1..200, checked by the handler
  std::string page_token;        // NextPageToken as received, may be empty
  std::string anchor;            // legacy Anchor (a customer_id), used when page_token is empty
};

struct ListResult {
  enum class Status { kOk, kBadPageToken, kBadAnchor };
  Status status = Status::kOk;
  std::vector<CustomerSummary> customers;
  std::string next_page_token;   // empty when there is no further page
};

class Directory {
 public:
  virtual ~Directory() = default;

  // The customer with this id, or nullopt.
  virtual std::optional<Customer> FindById(std::string_view customer_id) = 0;
  // The customer owning a channel whose normalised value equals the normalised `address`
  // (see address.h), or nullopt. When several match, the lowest customer_id wins.
  virtual std::optional<Customer> FindByAddress(std::string_view address) = 0;
  // One page in the stable order (display name case-insensitive, then customer_id).
  virtual ListResult ListCustomers(const ListRequest& request) = 0;
  // The worker record, or nullopt when the directory does not know the identity.
  virtual std::optional<Worker> FindWorker(std::string_view identity) = 0;
  // Distinct identities of workers that own at least one customer, sorted bytewise.
  virtual std::vector<std::string> WorkersWithCustomers() = 0;
  // A cheap check that the store answers (for /healthz); false with `error` set otherwise.
  virtual bool Ping(std::string* error) = 0;
};

}  // namespace frontline

#endif  // FRONTLINE_DIRECTORY_DIRECTORY_H_
