// The customer directory's data: Frontline's Customer DTO plus the assigned worker, and the
// workers with their own proxy numbers (SPEC §8). Plain value types.
#ifndef FRONTLINE_DIRECTORY_CUSTOMER_H_
#define FRONTLINE_DIRECTORY_CUSTOMER_H_

#include <string>
#include <vector>

namespace frontline {

struct Channel {
  std::string type;   // "sms" | "whatsapp" | "chat" (also "email", shown as given)
  std::string value;  // address as stored, e.g. "+15551234567" or "whatsapp:+15551234567"
};

struct Link {
  std::string type;          // site or app name, e.g. "Facebook"
  std::string value;         // URL
  std::string display_name;
};

struct Details {
  std::string title;
  std::string content;  // may hold newlines
};

struct Customer {
  std::string customer_id;   // opaque string
  std::string display_name;
  std::string avatar;        // absolute URL or empty
  std::vector<Channel> channels;
  std::vector<Link> links;
  Details details;           // both members empty: no details
  std::string worker;        // identity of the assigned worker, may be empty
};

// What GetCustomersList shows for one customer.
struct CustomerSummary {
  std::string customer_id;
  std::string display_name;
  std::string avatar;
};

struct Worker {
  std::string identity;
  std::string sms_number;       // the worker's own SMS proxy number, may be empty
  std::string whatsapp_number;  // the worker's own WhatsApp sender, may be empty
};

}  // namespace frontline

#endif  // FRONTLINE_DIRECTORY_CUSTOMER_H_
