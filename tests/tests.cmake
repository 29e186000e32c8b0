# Real-client compatibility suites (tests/clients/): each test starts build/floe itself
# on 127.0.0.1 with a kernel-picked port and talks to it with a real Kafka client.
# Included from the top CMakeLists.txt inside if(FLOE_TESTS), after enable_testing().

# Debian's interpreter: it has python3-pytest, python3-confluent-kafka and python3-kafka.
set(FLOE_TEST_PYTHON /usr/bin/python3 CACHE FILEPATH "Python that runs the client suites")
find_program(FLOE_TEST_NODE node)
if(NOT FLOE_TEST_NODE)
  set(FLOE_TEST_NODE node) # still registered, so that a machine without node fails the test
endif()

# pytest exits 5 when it collects no test; any non-zero exit fails a ctest test.
# Two ctest entries so that `ctest -j` runs them side by side: the consumer-group
# suites, and everything else.
add_test(NAME clients.pytest
  COMMAND ${FLOE_TEST_PYTHON} -m pytest -q -p no:cacheprovider tests/clients
          --ignore=tests/clients/test_groups.py --ignore=tests/clients/test_group_protocol.py
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
add_test(NAME clients.groups
  COMMAND ${FLOE_TEST_PYTHON} -m pytest -q -p no:cacheprovider
          tests/clients/test_groups.py tests/clients/test_group_protocol.py
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(clients.pytest clients.groups PROPERTIES
  ENVIRONMENT "FLOE_BIN=$<TARGET_FILE:floe>;PYTHONDONTWRITEBYTECODE=1"
  LABELS clients
  TIMEOUT 900)

# Needs tests/clients/kafkajs/node_modules (`make test` runs npm ci there); without
# it the test fails and says so. node --test exits 0 when it finds no test file.
add_test(NAME clients.kafkajs
  COMMAND ${FLOE_TEST_NODE} --test tests/clients/kafkajs/
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(clients.kafkajs PROPERTIES
  ENVIRONMENT "FLOE_BIN=$<TARGET_FILE:floe>"
  LABELS clients
  FAIL_REGULAR_EXPRESSION "# tests 0[\r\n]"
  TIMEOUT 300)
