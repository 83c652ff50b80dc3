#include "directory/customer_row.h"

#include "directory/schema.h"

namespace frontline {

bool ReadCustomerRow(const db::Statement& row, Customer* customer, std::string* error) {
  const std::string_view values[kCustomerColumns] = {
      row.Blob(0), row.Blob(1), row.Blob(2), row.Blob(3),
      row.Blob(4), row.Blob(5), row.Blob(6), row.Blob(7)};
  return ReadCustomerValues(values, customer, error);
}

bool ReadCustomerValues(const std::string_view (&values)[kCustomerColumns], Customer* customer,
                        std::string* error) {
  *customer = Customer();
  customer->customer_id = values[0];
  customer->display_name = values[1];
  customer->avatar = values[2];
  customer->details.title = values[3];
  customer->details.content = values[4];
  customer->worker = values[5];
  if (!DecodeChannelsBlob(values[6], &customer->channels) ||
      !DecodeLinksBlob(values[7], &customer->links)) {
    if (error != nullptr) {
      *error = "malformed channels or links of customer \"" + customer->customer_id + "\"";
    }
    return false;
  }
  return true;
}

}  // namespace frontline
