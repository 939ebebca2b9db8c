DROP TABLE members;
DROP TABLE chats;
