#include "objstore/xml.h"

#include <expat.h>

#include <memory>
#include <stdexcept>

namespace floe::objstore::xml {

namespace {

constexpr size_t kMaxDepth = 32;

struct Builder {
  Element root;
  std::vector<Element*> open;  // the path from the root to the element being read
  bool too_deep = false;
  XML_Parser parser = nullptr;
};

std::string_view local_name(const char* name) {
  std::string_view n(name);
  size_t colon = n.rfind(':');
  return colon == std::string_view::npos ? n : n.substr(colon + 1);
}

void on_start(void* user, const XML_Char* name, const XML_Char**) {
  auto* b = static_cast<Builder*>(user);
  if (b->open.size() >= kMaxDepth) {
    b->too_deep = true;
    XML_StopParser(b->parser, XML_FALSE);
    return;
  }
  Element* e;
  if (b->open.empty()) {
    e = &b->root;
  } else {
    e = &b->open.back()->children.emplace_back();
  }
  e->name = std::string(local_name(name));
  b->open.push_back(e);
}

void on_end(void* user, const XML_Char*) {
  auto* b = static_cast<Builder*>(user);
  if (!b->open.empty()) b->open.pop_back();
}

void on_text(void* user, const XML_Char* s, int len) {
  auto* b = static_cast<Builder*>(user);
  if (!b->open.empty()) b->open.back()->text.append(s, static_cast<size_t>(len));
}

}  // namespace

const Element* Element::child(std::string_view n) const {
  for (const auto& c : children) {
    if (c.name == n) return &c;
  }
  return nullptr;
}

std::string Element::child_text(std::string_view n) const {
  const Element* c = child(n);
  return c == nullptr ? std::string() : c->text;
}

std::vector<const Element*> Element::all(std::string_view n) const {
  std::vector<const Element*> out;
  for (const auto& c : children) {
    if (c.name == n) out.push_back(&c);
  }
  return out;
}

Element parse(std::string_view document) {
  // S3 sends spaces while a CompleteMultipartUpload runs, before the XML
  // declaration, which expat refuses.
  while (!document.empty() && (document.front() == ' ' || document.front() == '\t' || document.front() == '\r' ||
                               document.front() == '\n')) {
    document.remove_prefix(1);
  }
  std::unique_ptr<std::remove_pointer_t<XML_Parser>, decltype(&XML_ParserFree)> parser(XML_ParserCreate(nullptr),
                                                                                      &XML_ParserFree);
  if (!parser) throw std::bad_alloc();
  Builder b;
  b.parser = parser.get();
  XML_SetUserData(parser.get(), &b);
  XML_SetElementHandler(parser.get(), on_start, on_end);
  XML_SetCharacterDataHandler(parser.get(), on_text);
  if (document.size() > static_cast<size_t>(INT32_MAX)) throw std::runtime_error("XML document too large");
  XML_Status status = XML_Parse(parser.get(), document.data(), static_cast<int>(document.size()), XML_TRUE);
  if (b.too_deep) throw std::runtime_error("XML document nested deeper than 32 levels");
  if (status != XML_STATUS_OK) {
    throw std::runtime_error(std::string("malformed XML: ") + XML_ErrorString(XML_GetErrorCode(parser.get())) +
                             " at line " + std::to_string(XML_GetCurrentLineNumber(parser.get())));
  }
  if (b.root.name.empty()) throw std::runtime_error("XML document has no root element");
  return std::move(b.root);
}

std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace floe::objstore::xml
