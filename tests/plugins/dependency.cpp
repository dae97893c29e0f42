// A shared library a plugin links against: removing it later makes that plugin fail to load.
extern "C" int tributary_test_dependency_value() { return 7; }
