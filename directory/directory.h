// The customer directory as the handlers see it: lookups by id and by address, a paged and
// searchable list per worker, and worker numbers. Every lookup answers found, absent or
// unavailable (lookup.h; SPEC §8): a store that cannot answer is never reported as "not found"
// or as an empty list, and handlers turn unavailable into 503 (SPEC §1). Implementations must be
// safe to call from several request threads at once (SqliteDirectory keeps one connection per
// thread) and must answer again, without a restart, once the store is back.
#ifndef FRONTLINE_DIRECTORY_DIRECTORY_H_
#define FRONTLINE_DIRECTORY_DIRECTORY_H_

#include <string>
#include <string_view>
#include <vector>

#include "directory/customer.h"
#include "directory/lookup.h"

namespace frontline {

struct ListRequest {
  std::string worker;            // only this worker's customers, unless all_workers
  bool all_workers = false;      // crm.list-all-customers
  std::string query;             // search text, may be empty (SPEC §2)
  size_t page_size = 30;         // 1..200, checked by the handler
  std::string page_token;        // NextPageToken as received, may be empty
  std::string anchor;            // legacy Anchor (a customer_id), used when page_token is empty
};

struct [[nodiscard]] ListResult {
  // kUnavailable: the store could not answer (then `customers` is empty and `error` says why,
  // for the log); never a reason to show an empty list.
  enum class Status { kOk, kBadPageToken, kBadAnchor, kUnavailable };
  Status status = Status::kOk;
  std::vector<CustomerSummary> customers;
  std::string next_page_token;   // empty when there is no further page
  std::string error;             // set with kUnavailable
};

class Directory {
 public:
  virtual ~Directory() = default;

  // The customer with this id; absent when there is none; unavailable when the store cannot
  // answer or the customer's row cannot be decoded (the error names the customer_id).
  virtual Lookup<Customer> FindById(std::string_view customer_id) = 0;
  // The customer owning a channel whose normalised value equals the normalised `address`
  // (see address.h); absent when none does (or the address normalises to nothing). When
  // several match, the lowest customer_id wins. Unavailable as for FindById.
  virtual Lookup<Customer> FindByAddress(std::string_view address) = 0;
  // One page in the stable order (display name case-insensitive, then customer_id), or a
  // status saying why not (see ListResult).
  virtual ListResult ListCustomers(const ListRequest& request) = 0;
  // The worker record; absent when the directory does not know the identity.
  virtual Lookup<Worker> FindWorker(std::string_view identity) = 0;
  // Distinct identities of workers that own at least one customer, sorted bytewise: found
  // (possibly empty) or unavailable, never absent.
  virtual Lookup<std::vector<std::string>> WorkersWithCustomers() = 0;
  // A cheap check that the store answers (for /healthz); false with `error` set otherwise.
  [[nodiscard]] virtual bool Ping(std::string* error) = 0;
};

}  // namespace frontline

#endif  // FRONTLINE_DIRECTORY_DIRECTORY_H_
