// Opt-outs and the conversation map (SPEC §11) as the handlers and the `optout` command see
// them. Both are event state, kept with the outbox in the event store (SQLite's event file, or
// the "events" component of a PostgreSQL schema), never in the directory, so that `import
// --replace` keeps them. SqliteEventStore and PgEventStore implement this interface; the
// handlers use only it, so they never ask which backend they have.
//
// Every address and proxy given to or returned by a store is already normalised as SPEC §5
// says (directory/address.h NormaliseAddress); the store compares them as bytes. The proxy ""
// means "every proxy": an opt-out recorded where the conversation's number was unknown.
//
// The state of one customer address is a set of rows (address, proxy, opted_out):
// - (A, "", out): A is opted out on every proxy;
// - (A, P, out): A is opted out on proxy P;
// - (A, P, in): A opted in again on P despite an every-proxy opt-out (it exists only while
//   (A, "") does).
// A is opted out on P when the row (A, P) says out, or when there is none and (A, "") exists.
// SetOptOut keeps that invariant, so a START on one number never opts a customer back in on
// numbers they did not write to, and a STOP in an unmapped conversation overrides everything.
//
// Thread-safety: implementations must be safe to call from any number of threads at once.
#ifndef FRONTLINE_EVENTS_OPTOUT_STORE_H_
#define FRONTLINE_EVENTS_OPTOUT_STORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "directory/lookup.h"

namespace frontline {

// What the map knows of one conversation, with the opt-out state that applies to it, read in
// one query (the PRE event's whole lookup).
struct ConversationState {
  std::string customer;    // normalised customer address
  std::string proxy;       // normalised proxy address; "" when no webhook has named it yet
  bool opted_out = false;  // the customer is opted out on `proxy` (or on every proxy)
};

// One row of the opt-out state (see the header comment).
struct OptOutRow {
  std::string address;
  std::string proxy;       // "" = every proxy
  bool opted_out = true;   // false: an opt-in exception under an every-proxy opt-out
  std::string reason;      // what recorded it, e.g. "STOP in CH…", "optout add"
  int64_t updated_at = 0;  // unix ms
};

class OptOutStore {
 public:
  virtual ~OptOutStore() = default;

  // Remembers that `conversation_sid`'s customer is `customer` on `proxy`. A later call for the
  // same conversation replaces the values it gives (a "" proxy leaves a known one as it is).
  // Durable when it returns (on SQLite in the fsync'd group commit that enqueues use). A webhook
  // that also stores an outbox job puts the entry on the job instead (OutboxJob::map_customer),
  // so both take one commit. False with `error` set on a store error.
  [[nodiscard]] virtual bool MapConversation(const std::string& conversation_sid,
                                             const std::string& customer, const std::string& proxy,
                                             std::string* error) = 0;

  // The conversation's customer and proxy with the opt-out state for them; absent when no
  // webhook has mapped it; unavailable when the store cannot answer.
  virtual Lookup<ConversationState> FindConversation(const std::string& conversation_sid) = 0;

  // The row that makes `address` opted out on `proxy` (its own row, else the every-proxy row),
  // absent when it is not opted out there; unavailable when the store cannot answer.
  virtual Lookup<OptOutRow> FindOptOut(const std::string& address, const std::string& proxy) = 0;

  // Records an opt-out (`opted_out`) or an opt-in for `address` on `proxy` ("" = every proxy),
  // atomically and durably (fsync'd) before it returns:
  // - out on every proxy: the address's other rows are dropped, (A, "") recorded;
  // - in on every proxy: every row of the address is dropped;
  // - out on P: (A, P) out;
  // - in on P: (A, P) in when (A, "") exists, else (A, P) dropped.
  // `reason` is kept with the row for `optout list`. False with `error` set on a store error.
  [[nodiscard]] virtual bool SetOptOut(const std::string& address, const std::string& proxy,
                                       bool opted_out, const std::string& reason,
                                       std::string* error) = 0;

  // Every row, by address then proxy ("" first). False with `error` set on a store error.
  [[nodiscard]] virtual bool ListOptOuts(std::vector<OptOutRow>* rows, std::string* error) = 0;
};

}  // namespace frontline

#endif  // FRONTLINE_EVENTS_OPTOUT_STORE_H_
