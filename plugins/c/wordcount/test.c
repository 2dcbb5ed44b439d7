// The word count's test, run natively: cc -o build/test test.c job.c sandmill/*.c && build/test
#include "sandmill/sandmill_testing.h"

int main(void) {
    const char *lines[] = {"Don't stop", "DON'T, don't!", "", "x1 x1\tX1"};
    const char *want[] = {"don\t3", "stop\t1", "t\t3", "x1\t3"};
    sm_test_expect("counts lowercased words", &sandmill_job, SM_LINES, NULL, lines, 4, want, 4);
    return sm_test_summary();
}
