// A shared library without the plugin symbol, as a stray file in a plugin folder would be.
extern "C" int tributary_unrelated_function() { return 42; }
