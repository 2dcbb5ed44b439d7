/* adapter.c: the component's exports, between the contract's flat batches (the bindings
 * wit-bindgen generates from job.wit into the build directory, `job.h`) and the job's
 * functions; and the host calls (log, counters, next-values). Only in a component: this file
 * compiles to nothing natively, where testing.c stands in for the host. */
#ifdef __wasm__

#include "internal.h"
#include "job.h"

#include <stdlib.h>
#include <string.h>

/* ---- Host calls ------------------------------------------------------------------------- */

void sm__host_log(sm_log_level level, const char *message, size_t len) {
    job_string_t text = {(uint8_t *)message, len};
    sandmill_job_host_log((sandmill_job_host_log_level_t)level, &text);
}

void sm__host_counter(const char *name, size_t len, int64_t delta) {
    job_string_t text = {(uint8_t *)name, len};
    sandmill_job_host_counter_add(&text, delta);
}

/* Pulls the next chunk of the batch's last group from the host (its buffers are ours now). */
static bool host_pull(sm__chunk *chunk) {
    sandmill_job_host_records_t records;
    if (!sandmill_job_host_next_values(&records)) {
        return false;
    }
    *chunk = (sm__chunk){records.data.ptr, records.ends.ptr, records.ends.len};
    return true;
}

/* ---- Errors ----------------------------------------------------------------------------- */

/* The recorded error (of the call about item `index` of the batch) as a `job-error`. */
static void job_error(size_t index, job_job_error_t *err) {
    const char *message = sm_error_message();
    switch (sm__error_kind()) {
    case SM__PARAMS:
        err->tag = SANDMILL_JOB_TYPES_JOB_ERROR_INVALID_PARAMS;
        job_string_dup(&err->val.invalid_params, message);
        break;
    case SM__RECORD: {
        long at = sm__error_index();
        err->tag = SANDMILL_JOB_TYPES_JOB_ERROR_INVALID_RECORD;
        err->val.invalid_record.index = (uint32_t)(at >= 0 ? (size_t)at : index);
        job_string_dup(&err->val.invalid_record.message, message);
        break;
    }
    default:
        err->tag = SANDMILL_JOB_TYPES_JOB_ERROR_FAILED;
        job_string_dup(&err->val.failed, message);
        break;
    }
}

/* ---- Exports ---------------------------------------------------------------------------- */

static const sm_job *job = &sandmill_job;

bool exports_job_configure(job_list_tuple2_string_string_t *list, job_job_info_t *ret,
                           job_job_error_t *err) {
    sm_params params = {list->len, calloc(list->len + 1, sizeof(char *)),
                        calloc(list->len + 1, sizeof(char *))};
    if (params.keys == NULL || params.values == NULL) {
        sm__abort("out of memory");
    }
    for (size_t i = 0; i < list->len; i++) {
        params.keys[i] = sm__strdup((const char *)list->ptr[i].f0.ptr, list->ptr[i].f0.len);
        params.values[i] = sm__strdup((const char *)list->ptr[i].f1.ptr, list->ptr[i].f1.len);
    }
    job_list_tuple2_string_string_free(list);
    sm__error_clear();
    sm_status status;
    if (job->map == NULL && job->map_batch == NULL) {
        status = sm_fail("the job has neither map nor map_batch: set one in sandmill_job");
    } else if (job->reduce == NULL) {
        status = sm_fail("the job has no reduce: set one in sandmill_job");
    } else if (job->combiner == SM_COMBINE_PLUGIN && job->combine == NULL) {
        status = sm_fail("the job's combiner is SM_COMBINE_PLUGIN but it has no combine");
    } else if (job->configure != NULL) {
        status = sm__checked(job->configure(&params), "configure");
    } else {
        status = sm_params_expect_only(&params, NULL, 0);
    }
    for (size_t i = 0; i < params.len; i++) {
        free(params.keys[i]);
        free(params.values[i]);
    }
    free(params.keys);
    free(params.values);
    if (status != SM_OK) {
        job_error(0, err);
        return false;
    }
    sandmill_job_types_combiner_t combiner = {0};
    switch (job->combiner) {
    case SM_COMBINE_NONE:
        combiner.tag = SANDMILL_JOB_TYPES_COMBINER_NONE;
        break;
    case SM_COMBINE_PLUGIN:
        combiner.tag = SANDMILL_JOB_TYPES_COMBINER_PLUGIN;
        break;
    default:
        combiner.tag = SANDMILL_JOB_TYPES_COMBINER_MERGE;
        /* SM_MERGE_SUM..SM_MERGE_APPEND are in the contract's order. */
        combiner.val.merge =
            (sandmill_job_types_merge_policy_t)(job->combiner - SM_MERGE_SUM +
                                                SANDMILL_JOB_TYPES_MERGE_POLICY_SUM);
        break;
    }
    ret->combiner = combiner;
    /* A C job declares no input fields: it reads every record as it is in the input. */
    memset(&ret->fields, 0, sizeof ret->fields);
    return true;
}

bool exports_job_map_batch(job_input_batch_t *input, job_pairs_t *ret, job_job_error_t *err) {
    static const sm_format formats[] = {
        [SANDMILL_JOB_TYPES_INPUT_FORMAT_LINES] = SM_LINES,
        [SANDMILL_JOB_TYPES_INPUT_FORMAT_JSONL] = SM_JSONL,
        [SANDMILL_JOB_TYPES_INPUT_FORMAT_CSV] = SM_CSV,
    };
    if (input->format > SANDMILL_JOB_TYPES_INPUT_FORMAT_CSV) {
        /* The host sends declared fields only to a job that declares them. */
        sm__abort("internal: declared input fields reached a C job, which declares none");
    }
    sm_batch batch = {formats[input->format], NULL, input->records.ends.len,
                      input->records.data.ptr, input->records.ends.ptr};
    if (batch.format == SM_CSV) {
        batch.header = sm__csv_header_new(sm_bytes_of(input->header.ptr, input->header.len));
    }
    sm_emitter out = {0};
    sm_status status = SM_OK;
    size_t at = 0;
    if (job->map_batch != NULL) {
        sm__error_clear();
        sm__record_forget();
        status = sm__checked(job->map_batch(&batch, &out), "map_batch");
    } else {
        for (; at < batch.len; at++) {
            sm_record record = sm_batch_record(&batch, at);
            sm__error_clear();
            sm__record_forget();
            status = sm__checked(job->map(&record, &out), "map");
            if (status != SM_OK) {
                break;
            }
        }
    }
    sm__csv_header_free((sm_csv_header *)batch.header);
    job_input_batch_free(input);
    if (status != SM_OK) {
        sm__emitter_free(&out);
        job_error(at, err);
        return false;
    }
    *ret = (job_pairs_t){{out.data, out.len}, {out.ends, out.ends_len}};
    return true;
}

/* Calls the job's combine (into `pairs`) or reduce (into `out`) on every group of `batch`;
 * the index of the group that failed goes to `*failed`. */
static sm_status each_group(job_groups_t *batch, sm_emitter *pairs, sm_output *out,
                            uint32_t *group_ends, size_t *failed) {
    const sandmill_job_types_records_t *keys = &batch->keys, *values = &batch->values;
    size_t groups = batch->group_ends.len, key_start = 0, first = 0;
    for (size_t i = 0; i < groups; i++) {
        sm_bytes key = sm_bytes_of(keys->data.ptr + key_start, keys->ends.ptr[i] - key_start);
        key_start = keys->ends.ptr[i];
        size_t end = batch->group_ends.ptr[i];
        sm__pull pull = batch->last_continues && i + 1 == groups ? host_pull : NULL;
        sm_values vals;
        sm__values_init(&vals, values->data.ptr, values->ends.ptr, first, end, pull);
        first = end;
        sm__error_clear();
        sm_status status = pairs != NULL
                               ? sm__checked(job->combine(key, &vals, pairs), "combine")
                               : sm__checked(job->reduce(key, &vals, out), "reduce");
        sm__values_finish(&vals);
        if (status != SM_OK) {
            *failed = i;
            return status;
        }
        if (group_ends != NULL) {
            /* Which records each group wrote, so that the host can name a bad one's key. */
            group_ends[i] = (uint32_t)sm_output_len(out);
        }
    }
    return SM_OK;
}

bool exports_job_combine_groups(job_groups_t *batch, job_pairs_t *ret, job_job_error_t *err) {
    sm_emitter out = {0};
    size_t failed = 0;
    sm_status status = each_group(batch, &out, NULL, NULL, &failed);
    job_groups_free(batch);
    if (status != SM_OK) {
        sm__emitter_free(&out);
        job_error(failed, err);
        return false;
    }
    *ret = (job_pairs_t){{out.data, out.len}, {out.ends, out.ends_len}};
    return true;
}

bool exports_job_reduce_groups(job_groups_t *batch, job_output_t *ret, job_job_error_t *err) {
    sm_output out = {0};
    size_t groups = batch->group_ends.len, failed = 0;
    /* post-return frees only lists that are not empty: allocate none for them. */
    uint32_t *group_ends = groups ? malloc(groups * sizeof *group_ends) : NULL;
    if (groups && group_ends == NULL) {
        sm__abort("out of memory");
    }
    sm_status status = each_group(batch, NULL, &out, group_ends, &failed);
    job_groups_free(batch);
    if (status != SM_OK) {
        free(group_ends);
        sm__output_free(&out);
        job_error(failed, err);
        return false;
    }
    job_string_t *partitions =
        out.partitions_len ? malloc(out.partitions_len * sizeof *partitions) : NULL;
    if (out.partitions_len && partitions == NULL) {
        sm__abort("out of memory");
    }
    for (size_t i = 0; i < out.partitions_len; i++) {
        /* The name's buffer moves into the string the host reads. */
        partitions[i] = (job_string_t){(uint8_t *)out.partitions[i], strlen(out.partitions[i])};
    }
    free(out.partitions);
    *ret = (job_output_t){
        .records = {{out.data, out.len}, {out.ends, out.ends_len}},
        .partitions = {partitions, out.partitions_len},
        .routes = {out.routes, out.routes_len},
        .group_ends = {group_ends, groups},
    };
    return true;
}

#else
/* ISO C wants a declaration in every file. */
typedef int sm__empty_adapter;
#endif
