-- A counter of changes to what rater trust is computed from (ratings, votes, corrections and flags
-- and their reviews, annotation judgements). Moderation pages show each submitter's trust; with
-- this counter the API recomputes the assessment only when one of these inputs changed (and at
-- least every minute), instead of loading all feedback on every page. A sequence, because nextval
-- never waits for another transaction: writers of these tables never queue behind each other here.
-- Implicit events are not inputs and do not bump it. No index: reading a sequence is one page.
CREATE SEQUENCE "rater_inputs_version";

CREATE FUNCTION feedloop_bump_rater_inputs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM nextval('rater_inputs_version');
  RETURN NULL;
END $$;

CREATE TRIGGER rater_inputs_ratings AFTER INSERT OR UPDATE OR DELETE ON ratings
  FOR EACH STATEMENT EXECUTE FUNCTION feedloop_bump_rater_inputs();
CREATE TRIGGER rater_inputs_votes AFTER INSERT OR UPDATE OR DELETE ON pairwise_votes
  FOR EACH STATEMENT EXECUTE FUNCTION feedloop_bump_rater_inputs();
CREATE TRIGGER rater_inputs_corrections AFTER INSERT OR UPDATE OR DELETE ON corrections
  FOR EACH STATEMENT EXECUTE FUNCTION feedloop_bump_rater_inputs();
CREATE TRIGGER rater_inputs_flags AFTER INSERT OR UPDATE OR DELETE ON flags
  FOR EACH STATEMENT EXECUTE FUNCTION feedloop_bump_rater_inputs();
CREATE TRIGGER rater_inputs_judgements AFTER INSERT OR UPDATE OR DELETE ON annotation_assignments
  FOR EACH STATEMENT EXECUTE FUNCTION feedloop_bump_rater_inputs();
