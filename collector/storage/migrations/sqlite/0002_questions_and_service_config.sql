-- The widget's configuration per service (names per language, questions, layout,
-- theme), as JSON validated by collector.services.ServiceConfig.
ALTER TABLE services ADD COLUMN config TEXT NOT NULL DEFAULT '{}';

-- Closed questions' answers, by question id, as JSON.
ALTER TABLE ratings ADD COLUMN answers TEXT NOT NULL DEFAULT '{}';

CREATE TABLE daily_answer_rollups (
    service TEXT NOT NULL,
    day TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    ratings INTEGER NOT NULL,
    PRIMARY KEY (service, day, question, answer)
) WITHOUT ROWID;
