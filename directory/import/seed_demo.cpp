#include "directory/import/seed_demo.h"

namespace frontline {

std::vector<Customer> SeedDemoCustomers(const std::string& phone1, const std::string& phone2,
                                        const std::string& worker_identity) {
  const Details details{"Purchase History",
                        "Product: Unobtanium\n\nDate: 2021-07-07\nQuantity: 1000 units\n\n"
                        "Sales rep: Ash Williams"};
  const std::string avatar = "https://example.com/image.jpeg";
  Customer one;
  one.customer_id = "1";
  one.display_name = "Customer 1";
  one.avatar = avatar;
  if (!phone1.empty()) one.channels.push_back({"sms", phone1});
  if (!worker_identity.empty()) one.channels.push_back({"chat", worker_identity});
  one.links.push_back({"Facebook", "https://meta.facebook.com/", "Meta"});
  one.details = details;
  one.worker = worker_identity;
  Customer two;
  two.customer_id = "2";
  two.display_name = "Customer 2";
  two.avatar = avatar;
  if (!phone2.empty()) two.channels.push_back({"sms", phone2});
  two.links.push_back({"Facebook", "https://meta.facebook.com/", "Facebook"});
  two.details = details;
  two.worker = worker_identity;
  return {one, two};
}

}  // namespace frontline
