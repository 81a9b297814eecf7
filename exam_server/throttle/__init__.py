"""Failed logins counted per key (a ticket, a terminal, a console user at a source, a
source): candidates' logins lock until an invigilator unlocks; console and enrolment
attempts wait, never locking anyone out for good."""
