// The little XML that S3 speaks (list results, errors, multipart replies,
// STS answers), read into a small tree with expat and written with escape().
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace floe::objstore::xml {

struct Element {
  std::string name;  // local name: a "prefix:" is dropped
  std::string text;  // the character data directly inside, untrimmed
  std::vector<Element> children;

  // The first child named `name`, or nullptr.
  const Element* child(std::string_view name) const;
  // The text of the first child named `name`; "" when there is none.
  std::string child_text(std::string_view name) const;
  // Every child named `name`, in document order.
  std::vector<const Element*> all(std::string_view name) const;
};

// The document's root element. Throws std::runtime_error for malformed XML,
// or a document deeper than 32 levels (S3's replies are 4 deep).
Element parse(std::string_view document);

// `text` with & < > " ' escaped, for element content and attribute values.
std::string escape(std::string_view text);

}  // namespace floe::objstore::xml
