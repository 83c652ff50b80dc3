// Opt-out rules of SPEC §11 as pure code: which message bodies are opt-out and opt-in keywords
// (configurable, `optout.stop-keywords` / `optout.start-keywords`), what a customer's keyword
// records, and whether a PRE-event message is blocked. The handlers (conversations.cpp,
// outgoing_conversation.cpp) do the store I/O around these decisions; keeping the decisions
// here lets the unit tests cover them as tables. Stateless apart from the immutable keyword
// sets; safe from any thread.
#ifndef FRONTLINE_HANDLERS_OPTOUT_H_
#define FRONTLINE_HANDLERS_OPTOUT_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "events/optout_store.h"

namespace frontline {

enum class Keyword { kNone, kStop, kStart };

// The two keyword sets, each word kept folded (directory/fold.h: Unicode case folding and
// accents removed, the fold search uses), so "stop", "STOP", "Stop" and a full-width "ＳＴＯＰ"
// are one keyword, and a configured "ARRÊT" also matches "arret".
class OptOutKeywords {
 public:
  // SPEC §11's defaults: STOP STOPALL UNSUBSCRIBE CANCEL END QUIT / START YES UNSTOP.
  static constexpr const char* kDefaultStop = "STOP STOPALL UNSUBSCRIBE CANCEL END QUIT";
  static constexpr const char* kDefaultStart = "START YES UNSTOP";

  OptOutKeywords();  // the defaults

  // Space-separated words (any ASCII whitespace between them); an empty text means the default
  // for that set. nullopt with `error` set ("…: …" naming the word) when a word is not valid
  // UTF-8, longer than 64 bytes, has a character that is not a letter or digit (so a word can
  // never be a prefix of a sentence), or is in both sets.
  static std::optional<OptOutKeywords> Parse(std::string_view stop, std::string_view start,
                                             std::string* error);

  // What `body` is: trimmed of ASCII whitespace and folded, exactly one of the words, or none
  // ("STOP please", "stop." and "" are none).
  Keyword Classify(std::string_view body) const;

  const std::vector<std::string>& stop() const { return stop_; }
  const std::vector<std::string>& start() const { return start_; }

 private:
  std::vector<std::string> stop_;   // folded
  std::vector<std::string> start_;  // folded
};

// What a customer's keyword message records: for `address` on `proxy` ("" = every proxy),
// opted out or in again.
struct OptOutChange {
  std::string address;
  std::string proxy;
  bool opted_out = true;
};

// POST onMessageAdded: the change a message with keyword `keyword` from `author` records in a
// conversation the map knows as `mapped` (null: unmapped). None when the keyword is kNone; when
// the conversation is mapped and `author` is not its customer (a worker typing STOP changes
// nothing); or when it is unmapped and `author` is not a phone or WhatsApp address (only those
// are customers there; identities of workers are not).
std::optional<OptOutChange> DecideKeyword(Keyword keyword, std::string_view author,
                                          const ConversationState* mapped);

// PRE onMessageAdd: true when a message from `author` in a conversation the map knows as
// `mapped` (null: unmapped) must be rejected: mapped, its customer opted out on its proxy, and
// `author` not the customer. The customer's own messages and unmapped conversations never are.
bool ShouldBlockMessage(std::string_view author, const ConversationState* mapped);

struct OutboxJob;
struct Request;
struct Services;

// What routing and onParticipantAdded know of a conversation's customer: `request`'s
// ConversationSid → (MessagingBinding.Address, MessagingBinding.ProxyAddress), normalised (SPEC
// §5). Nothing without a ConversationSid, an address or services.optouts.
// AttachConversationMap puts it on `job` (job->map_customer, map_proxy), so the job's commit
// records it (one durable write per webhook); RecordConversationMap stores it on its own, for a
// webhook that stores no job: true, storing nothing, when there is nothing to store; false with
// `error` set when the store failed (the caller answers 503).
void AttachConversationMap(const Request& request, const Services& services, OutboxJob* job);
[[nodiscard]] bool RecordConversationMap(const Request& request, Services& services,
                                         std::string* error);

// The error body's text of both refusals (451 on the PRE event, 403 for GetProxyAddress).
inline constexpr const char* kOptedOutError = "customer opted out";

}  // namespace frontline

#endif  // FRONTLINE_HANDLERS_OPTOUT_H_
