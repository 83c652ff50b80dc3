#include "directory/customer_row.h"

#include "directory/schema.h"

namespace frontline {

bool ReadCustomerRow(const db::Statement& row, Customer* customer, std::string* error) {
  *customer = Customer();
  customer->customer_id = row.Text(0);
  customer->display_name = row.Text(1);
  customer->avatar = row.Text(2);
  customer->details.title = row.Text(3);
  customer->details.content = row.Text(4);
  customer->worker = row.Text(5);
  if (!DecodeChannelsBlob(row.Blob(6), &customer->channels) ||
      !DecodeLinksBlob(row.Blob(7), &customer->links)) {
    if (error != nullptr) {
      *error = "malformed channels or links of customer \"" + customer->customer_id + "\"";
    }
    return false;
  }
  return true;
}

}  // namespace frontline
