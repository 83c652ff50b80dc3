// The one place a customer becomes JSON: the SPEC §2 details object and list item (crm), the
// attributes Conversations webhooks set on a participant (§6), and the export record (§8),
// written through a RapidJSON Writer so every string is escaped. Strings that are not valid
// UTF-8 are written with U+FFFD in place of the bad bytes, so the output is always valid JSON.
// Stateless; safe from any thread (a Writer itself belongs to one thread).
#ifndef FRONTLINE_DIRECTORY_CUSTOMER_JSON_H_
#define FRONTLINE_DIRECTORY_CUSTOMER_JSON_H_

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string_view>

#include "directory/customer.h"

namespace frontline {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

// A string value or key, with invalid UTF-8 replaced by U+FFFD.
void WriteString(JsonWriter& w, std::string_view s);
void WriteKey(JsonWriter& w, std::string_view s);
// Writes "key": "value" only when value is not empty.
void WriteOptionalMember(JsonWriter& w, std::string_view key, std::string_view value);

// The Customer Details object (SPEC §2): customer_id, display_name, then avatar, channels,
// links and details each only when not empty. A present link always carries type, value and
// display_name, and present details both title and content, so the app never meets a missing
// string. The worker is not shown.
void WriteCustomerDetails(JsonWriter& w, const Customer& customer);

// A GetCustomersList item (SPEC §2), also the participant attributes of onParticipantAdded
// (SPEC §6): {"customer_id","display_name","avatar"}, avatar only when not empty.
void WriteCustomerSummary(JsonWriter& w, const CustomerSummary& summary);
void WriteCustomerSummary(JsonWriter& w, const Customer& customer);

// One customer of `export` (SPEC §8), in exactly what import reads back: customer_id,
// display_name, then avatar, worker, channels, links and details each only when not empty,
// and inside links and details every empty member left out too.
void WriteCustomerRecord(JsonWriter& w, const Customer& customer);

// One worker of `export`: identity, then sms_number and whatsapp_number when not empty.
void WriteWorkerRecord(JsonWriter& w, const Worker& worker);

}  // namespace frontline

#endif  // FRONTLINE_DIRECTORY_CUSTOMER_JSON_H_
