"""Enrolled terminals (终端绑定): each exam PC holds its own key pair and is bound once to
a seat by the centre admin or an invigilator; its ``hello`` proves it holds the key, and
its seat comes from the enrolment, never from its own word. See docs/operations.md."""
