// The test runner: every test/test_*.cpp is linked into this one doctest executable
// (`build/test/ditto_tests`; ctest runs each test case as its own test).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
