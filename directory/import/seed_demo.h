// The seed's two demo customers (`frontline-fcgi import --seed-demo`, reference §12), as
// records for ImportRecords. Thread-safety: a pure function.
#ifndef FRONTLINE_DIRECTORY_IMPORT_SEED_DEMO_H_
#define FRONTLINE_DIRECTORY_IMPORT_SEED_DEMO_H_

#include <string>
#include <vector>

#include "directory/customer.h"

namespace frontline {

// Built from CUSTOMER_PHONE_1, CUSTOMER_PHONE_2 and Worker_Identity:
//   "1" "Customer 1": sms phone1, chat worker; link Facebook https://meta.facebook.com/ "Meta"
//   "2" "Customer 2": sms phone2;              link Facebook https://meta.facebook.com/ "Facebook"
// both with avatar https://example.com/image.jpeg, the "Purchase History" details and
// worker = worker_identity. An empty phone or worker gives a customer without that channel.
std::vector<Customer> SeedDemoCustomers(const std::string& phone1, const std::string& phone2,
                                        const std::string& worker_identity);

}  // namespace frontline

#endif  // FRONTLINE_DIRECTORY_IMPORT_SEED_DEMO_H_
