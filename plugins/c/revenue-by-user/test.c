// Revenue by user's tests, run natively: cc -o build/test test.c job.c sandmill/*.c && build/test
#include "sandmill/sandmill_testing.h"

#include <string.h>

static const char *const want[] = {"-4\t1\t0", "2\t1\t-30", "10\t2\t150"};

int main(void) {
    const char *events[] = {
        "{\"user_id\":10,\"ts\":\"2026-03-22T10:00:00Z\",\"event\":\"buy\",\"amount_cents\":100}",
        "{\"user_id\":2,\"ts\":\"2026-03-22T10:00:01Z\",\"event\":\"refund\",\"amount_cents\":-30}",
        "{ \"amount_cents\" : 50 , \"event\" : \"b\\u0075y\", \"user_id\" : 10 }",
        "{\"user_id\":-4,\"ts\":\"2026-03-22T10:00:03Z\",\"event\":\"view\",\"amount_cents\":0}",
    };
    sm_test_expect("json lines", &sandmill_job, SM_JSONL, NULL, events, 4, want, 3);

    const char *rows[] = {
        "10,2026-03-22T10:00:00Z,buy,100",
        "2,2026-03-22T10:00:01Z,refund,\"-30\"",
        "10,2026-03-22T10:00:02Z,\"buy, again\",50",
        "-4,2026-03-22T10:00:03Z,\"say \"\"hi\"\"\",0",
    };
    sm_test_expect("csv gives the same answer", &sandmill_job, SM_CSV,
                   "user_id,ts,event,amount_cents", rows, 4, want, 3);

    sm_test_output out;
    const char *bad[] = {"{\"user_id\":1.5,\"amount_cents\":3}"};
    sm_status status = sm_test_run(&sandmill_job, SM_JSONL, NULL, bad, 1, &out);
    sm_test_check("a fractional user id is an error about the record",
                  status != SM_OK && strstr(sm_error_message(), "user_id") != NULL,
                  sm_error_message());
    const char *short_row[] = {"1,2026-03-22T10:00:00Z,buy"};
    status = sm_test_run(&sandmill_job, SM_CSV, "user_id,ts,event,amount_cents", short_row, 1,
                         &out);
    sm_test_check("a short CSV row is an error about the record",
                  status != SM_OK && strstr(sm_error_message(), "3 fields") != NULL,
                  sm_error_message());
    return sm_test_summary();
}
