// /callbacks/outgoing-conversation (SPEC §3): which Twilio number a conversation the worker
// starts from Customer Details is sent from.
#include <optional>
#include <string>
#include <string_view>

#include "directory/address.h"
#include "directory/directory.h"
#include "events/optout_store.h"
#include "handlers/callback_log.h"
#include "handlers/json.h"
#include "handlers/metrics.h"
#include "handlers/optout.h"
#include "handlers/router.h"
#include "handlers/unavailable.h"

namespace frontline {
namespace {

constexpr std::string_view kWhatsAppPrefix = "whatsapp:";

bool StartsWithIgnoringCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

// `number` as a WhatsApp sender address: exactly one lowercase "whatsapp:" prefix, whether the
// configuration wrote "+1…", "whatsapp:+1…" or "WhatsApp:+1…". Empty when there is no number
// after the prefix.
std::string WhatsAppAddress(std::string_view number) {
  if (StartsWithIgnoringCase(number, kWhatsAppPrefix)) number.remove_prefix(kWhatsAppPrefix.size());
  if (number.empty()) return std::string();
  return std::string(kWhatsAppPrefix) + std::string(number);
}

Response ProxyAddress(const Request& request, Services& services) {
  const FormParams& form = request.form;
  if (form.Get("Location") != "GetProxyAddress") {
    return ErrorResponse(422, "unknown Location",
                         "Location '" + std::string(form.Get("Location")) + "'");
  }
  const std::string_view channel_type = form.Get("ChannelType");
  const bool sms = channel_type == "sms";
  const bool whatsapp = channel_type == "whatsapp";
  // "chat" needs no proxy number, and an unknown type has none we could pick; refusing lets
  // the app say so instead of starting a conversation that cannot deliver.
  if (!sms && !whatsapp) {
    return ErrorResponse(403, "no proxy address for channel",
                         "ChannelType '" + std::string(channel_type) + "'");
  }

  // The worker's own number first, so customers always hear from the same number; the
  // directory is optional here because the global numbers alone are a working setup. A
  // directory that cannot answer is a 503, not the global number: a conversation started from
  // the wrong number stays on it, while the app can simply try again.
  std::optional<Worker> worker;
  const std::string_view identity = form.Get("Worker");
  if (services.directory != nullptr && !identity.empty()) {
    Lookup<Worker> found = services.directory->FindWorker(identity);
    if (found.unavailable()) return DirectoryUnavailable(services, found.error());
    if (found.found()) worker = std::move(found).value();
  }
  std::string address;
  if (sms) {
    address =
        worker && !worker->sms_number.empty() ? worker->sms_number : services.config.sms_number;
  } else {
    address = WhatsAppAddress(worker ? worker->whatsapp_number : std::string_view());
    if (address.empty()) address = WhatsAppAddress(services.config.whatsapp_number);
  }
  if (address.empty()) {
    return ErrorResponse(403, "no proxy address for channel",
                         "no " + std::string(channel_type) + " number for worker '" +
                             std::string(identity) + "' nor configured");
  }

  // SPEC §11: a customer who opted out on this number is not written to from it again. A store
  // that cannot say is a 503: the app can try again, a message to an opted-out customer cannot
  // be taken back.
  if (services.optouts != nullptr) {
    const std::string customer = NormaliseAddress(form.Get("ChannelValue"));
    if (!customer.empty()) {
      Lookup<OptOutRow> opted_out =
          services.optouts->FindOptOut(customer, NormaliseAddress(address));
      if (opted_out.unavailable()) return OptOutsUnavailable(opted_out.error());
      if (opted_out.found()) {
        if (services.metrics != nullptr) {
          services.metrics->RecordOptOutBlock(OptOutBlock::kNewConversation);
        }
        return ErrorResponse(403, kOptedOutError,
                             "customer opted out on " +
                                 (opted_out->proxy.empty() ? std::string("every proxy")
                                                           : "proxy " + opted_out->proxy));
      }
    }
  }

  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  WriteKey(w, "proxy_address");
  WriteString(w, address);
  w.EndObject();
  return JsonResponse(200, buffer);
}

}  // namespace

Response HandleOutgoingConversation(const Request& request, Services& services) {
  return TagForLog(ProxyAddress(request, services), request);
}

}  // namespace frontline
