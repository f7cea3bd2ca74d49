-- Bootstrap version 2: functions are not executable by everyone. PostgreSQL grants EXECUTE
-- to PUBLIC on every new function; a per-schema default cannot take that built-in grant
-- away, so this entry is database-wide, for every function the admin role creates. The
-- template grants EXECUTE where its own functions need it.
ALTER DEFAULT PRIVILEGES FOR ROLE {{admin}} REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
