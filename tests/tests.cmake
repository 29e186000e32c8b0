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
          --ignore=tests/clients/test_s3_faults.py
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

# The S3 backend against real S3-compatible servers: tests/s3/s3_servers.py starts
# s3rver (npm, tests/s3/node_modules: `make test` runs npm ci there) and our strict
# fake (tests/s3/fake_s3.py) on free ports around each command and stops them after.
set(FLOE_S3_SERVERS ${FLOE_TEST_PYTHON} ${CMAKE_SOURCE_DIR}/tests/s3/s3_servers.py --)
add_test(NAME objstore.s3
  COMMAND ${FLOE_S3_SERVERS} $<TARGET_FILE:floe_s3_itests>
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
# The test servers' own tests (the fake's SigV4 verifier against AWS's examples, ...).
add_test(NAME s3.servers
  COMMAND ${FLOE_TEST_PYTHON} -m pytest -q -p no:cacheprovider tests/s3
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
# The data path's produce/consume/crash tests, unchanged, on s3:// (s3rver) ...
add_test(NAME clients.s3
  COMMAND ${FLOE_S3_SERVERS} ${FLOE_TEST_PYTHON} -m pytest -q -p no:cacheprovider
          tests/clients/test_data_path.py tests/clients/test_kcat.py
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(clients.s3 PROPERTIES ENVIRONMENT "FLOE_TEST_OBJECT_STORE=s3rver")
# ... and on the strict fake (every request's signature checked), with injected faults.
add_test(NAME clients.s3.faults
  COMMAND ${FLOE_S3_SERVERS} ${FLOE_TEST_PYTHON} -m pytest -q -p no:cacheprovider
          tests/clients/test_s3_faults.py tests/clients/test_confluent_kafka.py tests/clients/test_kcat.py
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(clients.s3.faults PROPERTIES ENVIRONMENT "FLOE_TEST_OBJECT_STORE=fake")
set_tests_properties(objstore.s3 s3.servers clients.s3 clients.s3.faults PROPERTIES
  ENVIRONMENT_MODIFICATION "FLOE_BIN=set:$<TARGET_FILE:floe>;PYTHONDONTWRITEBYTECODE=set:1"
  LABELS s3
  TIMEOUT 900)
