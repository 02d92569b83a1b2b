-- 001: the tables of DESIGN.md section 5.

CREATE TABLE patients (
    tenant      text        NOT NULL CHECK (tenant <> ''),
    code        text        NOT NULL CHECK (code <> '' AND octet_length(code) <= 255),
    first_name  text        NOT NULL CHECK (octet_length(first_name) BETWEEN 1 AND 255),
    last_name   text                 CHECK (octet_length(last_name) <= 255),
    gender      text        NOT NULL CHECK (gender IN ('male', 'female')),
    birthdate   date        NOT NULL CHECK (birthdate >= DATE '1900-01-01'),
    email       text                 CHECK (octet_length(email) <= 254),
    -- The batch that last wrote the row: an update applies only when its
    -- (received_at, request_id) sorts after these, so old data never wins.
    received_at timestamptz NOT NULL,
    request_id  uuid        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, code)
);

CREATE TABLE patient_batches (
    request_id   uuid        PRIMARY KEY,
    tenant       text        NOT NULL,
    received_at  timestamptz NOT NULL,
    applied_at   timestamptz NOT NULL DEFAULT now(),
    patients     integer     NOT NULL CHECK (patients BETWEEN 1 AND 1000),
    topic        text        NOT NULL,
    partition    integer     NOT NULL,
    kafka_offset bigint      NOT NULL
);

-- Where each consumer group goes on in each partition: written in the same
-- transaction as the batch, read on assignment. PostgreSQL, not Kafka, is the
-- source of truth for what was applied.
CREATE TABLE consumer_offsets (
    group_id    text   NOT NULL,
    topic       text   NOT NULL,
    partition   integer NOT NULL,
    next_offset bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, topic, partition)
);
