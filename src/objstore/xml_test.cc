#include "objstore/xml.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace floe::objstore::xml {
namespace {

TEST(Xml, ReadsAListObjectsV2Page) {
  Element root = parse(R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>bucket</Name><IsTruncated>true</IsTruncated>
  <Contents><Key>a&amp;b</Key><Size>3</Size></Contents>
  <Contents><Key>c</Key><Size>4</Size></Contents>
  <NextContinuationToken>tok</NextContinuationToken>
</ListBucketResult>)");
  EXPECT_EQ(root.name, "ListBucketResult");
  EXPECT_EQ(root.child_text("IsTruncated"), "true");
  EXPECT_EQ(root.child_text("NextContinuationToken"), "tok");
  EXPECT_EQ(root.child_text("Missing"), "");
  EXPECT_EQ(root.child("Missing"), nullptr);
  auto contents = root.all("Contents");
  ASSERT_EQ(contents.size(), 2u);
  EXPECT_EQ(contents[0]->child_text("Key"), "a&b");
  EXPECT_EQ(contents[1]->child_text("Size"), "4");
}

TEST(Xml, DropsNamespacePrefixes) {
  Element root = parse(R"(<s:Error xmlns:s="urn:x"><s:Code>SlowDown</s:Code></s:Error>)");
  EXPECT_EQ(root.name, "Error");
  EXPECT_EQ(root.child_text("Code"), "SlowDown");
}

TEST(Xml, MalformedAndTooDeepDocumentsThrow) {
  EXPECT_THROW(parse("<a><b></a>"), std::runtime_error);
  EXPECT_THROW(parse(""), std::runtime_error);
  EXPECT_THROW(parse("not xml"), std::runtime_error);
  std::string deep;
  for (int i = 0; i < 40; ++i) deep += "<a>";
  for (int i = 0; i < 40; ++i) deep += "</a>";
  EXPECT_THROW(parse(deep), std::runtime_error);
}

TEST(Xml, EscapeRoundTrips) {
  std::string text = "k<&>\"'/x";
  EXPECT_EQ(escape(text), "k&lt;&amp;&gt;&quot;&apos;/x");
  EXPECT_EQ(parse("<Key>" + escape(text) + "</Key>").text, text);
}

}  // namespace
}  // namespace floe::objstore::xml
