#include "openbits/secret.h"

#include <string.h>

namespace openbits {

void SecretString::Wipe() {
  // explicit_bzero is never optimised away, unlike memset before a free.
  explicit_bzero(value_.data(), value_.capacity());
  value_.clear();
}

}  // namespace openbits
