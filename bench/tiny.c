/* tiny.c - the smallest program: the raw posix_spawn baseline's child. */
int main(void) { return 0; }
