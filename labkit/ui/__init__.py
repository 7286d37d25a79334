"""What a learner touches: notebook widgets, quizzes and progress, the command line, the course runner."""
